"""Benchmarks run on demand (not timed tests): see bench/README.md."""
