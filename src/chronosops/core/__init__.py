"""The kernel every layer shares: errors, ids, clock, canonical hashing, time, the ingest contract."""
