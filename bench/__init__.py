"""Benchmarks (run by hand; figures in docs/benchmarks.md)."""
