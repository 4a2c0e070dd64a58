"""Benchmarks: `python -m bench.<name>` prints each figure as a `name: value` line."""
