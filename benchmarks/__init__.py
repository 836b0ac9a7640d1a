"""`make bench`: every figure the issues name, with p50/p99 and throughput.

Each `benchmarks/bench_*.py` module exposes `run() -> list[Figure]`. The
harness runs them in order (or those named on the command line), prints a
table and writes `docs/PERFORMANCE.md` and `docs/performance.json`.
"""
