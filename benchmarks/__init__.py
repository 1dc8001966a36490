"""Benchmarks: `make bench` runs them and prints their tables (numbers kept in docs/benchmarks.md)."""
