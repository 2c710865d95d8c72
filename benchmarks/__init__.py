"""Benchmarks, each run from the repository root with ``python -m benchmarks.bench_<name>``
(results and how each was measured: BENCHMARKS.md)."""
