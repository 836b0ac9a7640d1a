"""Per-token rate limits on the cache every process shares.

A sliding-window counter (Cloudflare's "previous window, weighted"): the
shared cache (the database cache by default, Redis with REDIS_URL) keeps one
counter per token and fixed window, and a request is admitted while

    previous window's count * (1 - elapsed / period) + this window's count <= limit

A fixed window alone admitted `limit` requests at the end of one window and
`limit` more at the start of the next: twice the rate within a second. The
weighted previous window carries the first burst over the boundary, so the
caller gets the rate back gradually (Cloudflare measured 0.003% of requests
wrongly admitted or refused against an exact sliding log). Only admitted
requests are counted: a caller sending a bit more than its limit still gets
its limit, not nothing.

Each process counts locally and adds its count to the shared counter once
every `chunk` requests, chunk being 1% of the limit: a process then sees the
others' requests at most a chunk late, so a window admits at most
`limit + processes * chunk` requests (exact for small limits, where chunk is
1). With its first push in a window, a process also adds what it had left of
the previous window and learns that window's total, which weighs on this
one: one more cache call per window. The point is the cost: one database-cache `incr` is a get plus a set
(~0.3-0.5 ms on SQLite, more on PostgreSQL), most of the fraud check's 1 ms
budget; DRF's `SimpleRateThrottle` rewrites a list of timestamps per request
and costs more still (benchmarks/bench_throttle.py). Batched, the throttle
costs a few microseconds a request at the default rate.

No decision waits for the cache. When it is unreachable (Redis stopped), the
throttle fails open: each process enforces alone a fallback limit, the rate
divided by the web workers (API_THROTTLE_WORKERS), counts the failures in
`sunusav_cache_errors_total{component="throttle"}`, logs the outage's start
and end once, and tries the cache again every few seconds (sunusav.api.cache_guard).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from prometheus_client import Counter
from rest_framework.throttling import BaseThrottle

from sunusav.api.cache_guard import CACHE_DOWN_ERRORS, CacheOutage

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATES: dict[str, tuple[int, int] | None] = {}
# (scope, fingerprint, seconds) -> this process's counts for the current window
_COUNTERS: dict[tuple, _Window] = {}
_OUTAGE = CacheOutage("throttle")
FAIL_OPEN = Counter(
    "sunusav_throttle_fail_open",
    "API requests the throttle decided alone (per-worker fallback limit) because the shared cache was down.",
)


class _Window:
    """One process's view of a token's counts in the current window, and of the previous window."""

    __slots__ = ("carry", "index", "local", "local_previous", "pending", "previous", "previous_read", "shared")

    def __init__(self, index: int, *, previous: int = 0, carry: int = 0, local_previous: int = 0):
        self.index = index
        self.pending = 0  # admitted here, not yet added to the shared counter
        self.shared = 0  # the shared counter at this process's last push
        self.previous = previous  # the previous window's total (this process's view until read)
        self.previous_read = False  # whether `previous` was read from the shared counter yet
        self.carry = carry  # admitted here in the previous window, not yet added to its shared counter
        self.local = 0  # admitted here this window (what the fallback limit counts)
        self.local_previous = local_previous


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """Return (requests, seconds) from "1000/s", "60000/min", "10/h"; None when empty (no limit)."""
    if not rate:
        return None
    count, _, period = rate.partition("/")
    unit = period.strip()[:1].lower() or "s"
    if not count.strip().isdigit() or unit not in _PERIODS or int(count) <= 0:
        raise ValueError(f"Bad throttle rate {rate!r}: expected e.g. '1000/s' or '60000/min'.")
    return int(count), _PERIODS[unit]


def _cache_call(now: float | None, method, *args, **kwargs):
    """Call the shared cache; on failure note the outage and return None."""
    try:
        result = method(*args, **kwargs)
    except CACHE_DOWN_ERRORS as exc:
        _OUTAGE.failed(exc, now)
        return None
    _OUTAGE.succeeded(now)
    return result


def _shared_add(key: str, delta: int, seconds: int, now: float | None = None) -> int | None:
    """Add delta to the shared counter of a window; return its new total, None if the cache is down."""

    def add() -> int:
        try:
            return cache.incr(key, delta)
        except ValueError:  # the window's first push
            # Kept two windows: the next window weighs this one.
            if cache.add(key, delta, timeout=2 * seconds + 1):
                return delta
            return cache.incr(key, delta)

    return _cache_call(now, add)


def _next_window(state: _Window | None, *, index: int) -> _Window:
    """Return the counts for window `index`, starting from this process's own view of the previous one.

    The shared previous total is read with the window's first push
    (`_push`), not here: at high rates most requests of a new window never
    touch the cache, as before the window's first chunk.
    """
    if state is None or state.index != index - 1:
        return _Window(index)
    return _Window(index, previous=state.shared + state.pending, carry=state.pending, local_previous=state.local)


def _push(state: _Window, *, prefix: str, seconds: int, now: float) -> bool:
    """Add this process's pending count to the shared counter (and learn the previous total); return success."""
    if not state.previous_read:
        key = f"{prefix}:{state.index - 1}"
        # Push what was left of it, or read it: the others may have counted while this process was idle.
        previous = _shared_add(key, state.carry, seconds, now) if state.carry else _cache_call(now, cache.get, key, 0)
        if previous is None:
            return False
        state.previous, state.carry, state.previous_read = max(state.previous, previous), 0, True
    total = _shared_add(f"{prefix}:{state.index}", state.pending, seconds, now)
    if total is None:
        return False
    state.shared, state.pending = total, 0
    return True


def _retry_after(*, count_max: int, previous: int, current: int, elapsed: float, seconds: int) -> float:
    """Return the seconds until one more request fits: `previous` and `current` are the windows' admitted counts."""
    if current + 1 <= count_max and previous > 0:
        # Later in this window the previous one weighs less.
        fits_at = seconds * (1 - (count_max - current - 1) / previous)
        return max(0.0, fits_at - elapsed)
    # This window alone is full: wait for the next one, then for this one's weight to drop.
    fits_at = seconds * (1 - (count_max - 1) / current) if current else 0.0
    return (seconds - elapsed) + max(0.0, fits_at)


class InternalTokenRateThrottle(BaseThrottle):
    """Allow API_THROTTLE_RATE requests per token per sliding window; past it, 429 with Retry-After.

    The rate is read from settings on each request (parsed once per value), so
    tests and operators can change it without touching class attributes.
    """

    scope = "internal"
    timer = time.time  # tests move time forward by replacing it

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
        now = self.timer()
        index = int(now // seconds)
        elapsed = now - index * seconds
        weight = 1.0 - elapsed / seconds
        prefix = f"throttle:{self.scope}:{fingerprint}:{seconds}"
        counter = (self.scope, fingerprint, seconds)
        state = _COUNTERS.get(counter)
        if state is None or state.index != index:
            state = _COUNTERS[counter] = _next_window(state, index=index)

        state.pending += 1
        state.local += 1
        pushed = (
            state.pending >= max(1, count_max // 100)
            and _OUTAGE.available(now)
            and _push(state, prefix=prefix, seconds=seconds, now=now)
        )

        if _OUTAGE.down:
            FAIL_OPEN.inc()
            count_max = max(1, count_max // max(1, getattr(settings, "API_THROTTLE_WORKERS", 1)))
            previous, current = state.local_previous, state.local
        else:
            previous, current = state.previous, state.shared + state.pending
        if previous * weight + current <= count_max:
            return True

        # Refused: this request is not counted, here or in the shared counter.
        state.local -= 1
        if pushed and (total := _shared_add(f"{prefix}:{index}", -1, seconds, now)) is not None:
            state.shared = total
        else:
            state.pending -= 1  # not pushed yet (or the cache just failed): taken back with the next push
        self._wait = _retry_after(
            count_max=count_max, previous=previous, current=current - 1, elapsed=elapsed, seconds=seconds
        )
        return False

    def wait(self):
        return max(1.0, math.ceil(getattr(self, "_wait", 1.0)))


def throttle_reset() -> None:
    """Forget this process's local counts and any cache outage (tests)."""
    _COUNTERS.clear()
    _OUTAGE.reset()
