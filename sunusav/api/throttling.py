"""Per-token rate limits on the cache every process shares.

A fixed-window counter kept in the shared cache (the database cache by
default, Redis with REDIS_URL), so the limit holds across gunicorn workers.
Each process counts locally and adds its count to the shared counter once
every `chunk` requests, chunk being 1% of the limit: a process then sees the
others' requests at most a chunk late, so a window admits at most
`limit + processes * chunk` requests (exact for small limits, where chunk is
1). The point is the cost: one database-cache `incr` is a get plus a set
(~0.3-0.5 ms on SQLite, more on PostgreSQL), most of the fraud check's 1 ms
budget; DRF's `SimpleRateThrottle` rewrites a list of timestamps per request
and costs more still (benchmarks/bench_throttle.py). Batched, the throttle
costs a few microseconds a request at the default rate.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATES: dict[str, tuple[int, int] | None] = {}
# (scope, fingerprint, seconds) -> [window, not yet pushed, shared total at last push]
_COUNTERS: dict[tuple, list] = {}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """Return (requests, seconds) from "1000/s", "60000/min", "10/h"; None when empty (no limit)."""
    if not rate:
        return None
    count, _, period = rate.partition("/")
    unit = period.strip()[:1].lower() or "s"
    if not count.strip().isdigit() or unit not in _PERIODS or int(count) <= 0:
        raise ValueError(f"Bad throttle rate {rate!r}: expected e.g. '1000/s' or '60000/min'.")
    return int(count), _PERIODS[unit]


def _shared_add(key: str, delta: int, seconds: int) -> int:
    """Add delta to the shared counter of a window; return its new total."""
    try:
        return cache.incr(key, delta)
    except ValueError:  # the window's first push
        if cache.add(key, delta, timeout=seconds + 1):
            return delta
        return cache.incr(key, delta)


class InternalTokenRateThrottle(BaseThrottle):
    """Allow API_THROTTLE_RATE requests per token per window; past it, 429 with Retry-After.

    The rate is read from settings on each request (parsed once per value), so
    tests and operators can change it without touching class attributes.
    """

    scope = "internal"

    def allow_request(self, request, view):
        fingerprint = request.auth
        rate = getattr(settings, "API_THROTTLE_RATE", None)
        try:
            limit = _RATES[rate]
        except KeyError:
            limit = _RATES[rate] = parse_rate(rate)
        if limit is None or not isinstance(fingerprint, str):
            return True  # no limit configured, or a public view (no token)
        count_max, seconds = limit
        now = time.time()
        window = int(now // seconds)
        state = _COUNTERS.get((self.scope, fingerprint, seconds))
        if state is None or state[0] != window:
            state = _COUNTERS[(self.scope, fingerprint, seconds)] = [window, 0, 0]
        state[1] += 1
        if state[1] >= max(1, count_max // 100):
            key = f"throttle:{self.scope}:{fingerprint}:{seconds}:{window}"
            state[2] = _shared_add(key, state[1], seconds)
            state[1] = 0
        self._wait = (window + 1) * seconds - now
        return state[2] + state[1] <= count_max

    def wait(self):
        return max(1.0, getattr(self, "_wait", 1.0))


def throttle_reset() -> None:
    """Forget this process's local counts (tests)."""
    _COUNTERS.clear()
