"""Benchmarks for rill; run ``python -m benchmarks.streaming`` from the repository root."""
