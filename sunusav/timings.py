"""Per-stage timings of a real-time decision, in microseconds.

The request middleware starts a timer; code on the decision's path calls
`mark(stage)` when a stage ends, and the time since the previous mark is
added to that stage. The stages: `validation` (everything before the service
runs: parsing, authentication, serializers), `features`, `model`, `rules`,
`writes` (rows written before the audit row, e.g. a hold and its alert). The
audit row stores the stages measured so far (`meta["stages_us"]`); the request
log line has the complete set, the audit write included (`audit`).

Outside a request (jobs, commands) no timer runs and `mark` does nothing.
A mark costs about 0.3 us (`perf_counter_ns`, a context variable, a dict update).
"""

from __future__ import annotations

from contextvars import ContextVar
from time import perf_counter_ns

STAGES = ("validation", "features", "model", "rules", "writes")


class Stages:
    """Accumulated microseconds per stage since `start_ns`."""

    __slots__ = ("last_ns", "us")

    def __init__(self, start_ns: int | None = None):
        self.last_ns = perf_counter_ns() if start_ns is None else start_ns
        self.us: dict[str, int] = {}

    def mark(self, stage: str) -> None:
        now = perf_counter_ns()
        self.us[stage] = self.us.get(stage, 0) + (now - self.last_ns) // 1000
        self.last_ns = now


_current: ContextVar[Stages | None] = ContextVar("sunusav_stages", default=None)


def start(start_ns: int | None = None):
    """Start a timer for the current request; return the token that `stop` takes."""
    return _current.set(Stages(start_ns))


def stop(token) -> Stages | None:
    """End the current timer and return it."""
    stages = _current.get()
    _current.reset(token)
    return stages


def mark(stage: str) -> None:
    """End `stage` now (no-op outside a timed request)."""
    stages = _current.get()
    if stages is not None:
        stages.mark(stage)


def current() -> Stages | None:
    """Return the current request's timer, if any."""
    return _current.get()


def snapshot() -> dict[str, int] | None:
    """Return the stages measured so far (a copy), or None outside a timed request."""
    stages = _current.get()
    return None if stages is None else dict(stages.us)
