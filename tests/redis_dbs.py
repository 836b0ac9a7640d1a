"""Redis databases per pytest-xdist worker, so parallel workers never flush each other's queues.

Worker n takes two databases below the one named: ``base - 2n`` for the broker tests
(TEST_REDIS_URL) and ``base - 2n - 1`` for the whole-stack test, so with the default 15
gw0 uses 15 and 14, gw1 13 and 12, and so on (four workers fit in Redis' 16 databases).
"""

from __future__ import annotations

import os


def worker_index() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def worker_redis_url(url: str, offset: int = 0) -> str:
    """`url` with its database moved to this worker's own (`offset` 0: broker tests, 1: the stack)."""
    base, _, db = url.rpartition("/")
    number = int(db or 0) - 2 * worker_index() - offset
    if number < 0:
        raise RuntimeError(f"no Redis database left for xdist worker {worker_index()} below {url}")
    return f"{base}/{number}"
