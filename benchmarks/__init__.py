"""Benchmarks for sinch-async (not tests: run them with ``python -m benchmarks.<name>``)."""
