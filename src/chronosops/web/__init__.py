"""HTTP: the JSON API (and, later, the console pages)."""
