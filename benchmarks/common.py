"""Timing helpers and the figure record every benchmark returns."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class Figure:
    """One measured figure, beside the seed's target and its issue's goal."""

    name: str
    unit: str = "ms"
    p50: float | None = None
    p99: float | None = None
    throughput: float | None = None  # operations per second
    throughput_unit: str = "ops/s"
    n: int = 0
    errors: int = 0
    value: float | None = None  # for single-number figures (AUC, members/min ...)
    goal: str = ""
    seed_target: str = ""
    met: bool | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def time_calls(fn: Callable[[], object], *, n: int, warmup: int = 50) -> dict:
    """Call `fn` n times; return p50/p99 in milliseconds and calls per second."""
    for _ in range(warmup):
        fn()
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    elapsed = time.perf_counter() - started
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "throughput": n / elapsed,
        "n": n,
    }
