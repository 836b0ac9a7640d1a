"""Timing helpers and the figure record every benchmark returns."""

from __future__ import annotations

import io
import statistics
import sys
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


def wsgi_caller(path: str, body: bytes, token: str):
    """Return a function that posts `body` to `path` through Django's WSGI handler; it returns the status."""
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "HTTP_X_INTERNAL_TOKEN": token,
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }

    def call() -> int:
        status = []
        response = handler({**base, "wsgi.input": io.BytesIO(body)}, lambda s, h, exc_info=None: status.append(s))
        b"".join(response)
        response.close()
        return int(status[0].split()[0])

    return call
