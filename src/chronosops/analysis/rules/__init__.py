"""One module per rule family; each turns observations and the localisation into candidates."""
