"""When the shared cache is down: which errors say so, how each caller notes the outage.

With REDIS_URL the cache is Redis, and Redis may stop while the service runs.
No decision needs it (the throttle fails open, sunusav/api/throttling.py);
what truly needs it answers a clean 503 (the API's JSON, the back-office's
French page). Every caller counts the failures in
`sunusav_cache_errors_total{component}` and logs once when an outage starts
and once when it ends, per process: a log line per request would drown the
logs exactly when they are read.
"""

from __future__ import annotations

import logging
import time

import redis.exceptions
from django.db import DatabaseError
from prometheus_client import Counter

logger = logging.getLogger("sunusav.cache")

# What the Redis cache raises when the server is gone or slow (not a bug in the caller).
REDIS_DOWN_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# What any cache backend may raise when its store is unreachable (the database cache: DatabaseError).
CACHE_DOWN_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.RedisError, DatabaseError, OSError)

CACHE_ERRORS = Counter(
    "sunusav_cache_errors", "Shared-cache calls that failed (cache unreachable), by component.", ["component"]
)


class CacheOutage:
    """One process's view of the shared cache for one component: usable, or down and retried later.

    While down, `available()` is true once every `retry_seconds`, so a dead
    Redis costs one failed call per interval, not one per request (each may
    wait for the socket timeout when the network, not the server, is gone).
    """

    def __init__(self, component: str, *, retry_seconds: float = 5.0):
        self.component = component
        self.retry_seconds = retry_seconds
        self.down_since: float | None = None
        self._retry_at = 0.0
        self._errors = CACHE_ERRORS.labels(component)

    @property
    def down(self) -> bool:
        """Return whether the last call to the cache failed."""
        return self.down_since is not None

    def available(self, now: float | None = None) -> bool:
        """Return whether to call the cache now (up, or down and due for a retry)."""
        return self.down_since is None or (time.time() if now is None else now) >= self._retry_at

    def failed(self, exc: BaseException, now: float | None = None) -> None:
        """Note a failed call: count it, log the start of an outage once, wait before the next try."""
        now = time.time() if now is None else now
        self._errors.inc()
        if self.down_since is None:
            self.down_since = now
            logger.warning(
                "cache.down",
                extra={"component": self.component, "error": type(exc).__name__, "retry_seconds": self.retry_seconds},
            )
        self._retry_at = now + self.retry_seconds

    def succeeded(self, now: float | None = None) -> None:
        """Note a successful call: log the end of an outage once."""
        if self.down_since is not None:
            now = time.time() if now is None else now
            logger.info(
                "cache.up", extra={"component": self.component, "down_seconds": round(now - self.down_since, 1)}
            )
            self.down_since = None

    def reset(self) -> None:
        """Forget any outage (tests)."""
        self.down_since = None
        self._retry_at = 0.0


class TolerantCache:
    """The shared cache for callers that only use it to go faster (the dashboard's figures).

    A call while the cache is down counts and logs as `CacheOutage` does and
    behaves as a miss (reads) or does nothing (writes): the caller computes
    the figures again instead of showing an error page.
    """

    def __init__(self, component: str):
        self.outage = CacheOutage(component)

    def _call(self, method: str, *args, default=None):
        from django.core.cache import cache  # the configured cache at call time (tests swap it)

        if not self.outage.available():
            return default
        try:
            result = getattr(cache, method)(*args)
        except REDIS_DOWN_ERRORS as exc:
            self.outage.failed(exc)
            return default
        self.outage.succeeded()
        return result

    def get(self, key: str):
        return self._call("get", key)

    def get_many(self, keys: list[str]) -> dict:
        return self._call("get_many", keys, default={})

    def set(self, key: str, value, timeout: float) -> None:
        self._call("set", key, value, timeout)

    def set_many(self, values: dict, timeout: float) -> None:
        self._call("set_many", values, timeout)

    def delete_many(self, keys: list[str]) -> None:
        self._call("delete_many", keys)
