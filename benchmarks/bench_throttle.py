"""Cost of the per-token rate limit on the hot path: our fixed window vs DRF's SimpleRateThrottle.

Times `allow_request` alone at the default-sized rate (batched: one shared
`incr` every 1% of the limit), one shared `incr` per request (the unbatched
fixed window), and DRF's history list, each (what each API call pays on top of its work), on
the configured shared cache: the database cache on the embedded default (the
database is SQLite or DATABASE_URL's), Redis with REDIS_URL. Also times a full
/api/fraud/check through the test client with the throttle on and off.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from benchmarks.common import Figure, time_calls
from sunusav.api.throttling import InternalTokenRateThrottle, _shared_add

N = 2000
RATE = "180000/min"  # the default


class _DrfHistoryThrottle(SimpleRateThrottle):
    """DRF's own sliding-window throttle keyed by token fingerprint (the comparison)."""

    rate = "100000000/m"

    def get_cache_key(self, request, view):
        return f"drf-throttle:{request.auth}"


class _Request:
    auth = "benchfingerp"
    META = {}


def _history_throttle():
    throttle = _DrfHistoryThrottle()
    throttle.num_requests = 10**8  # never refuse; a real limit keeps a list this long per window
    request = _Request()
    return lambda: throttle.allow_request(request, None)


def run() -> list[Figure]:
    figures = []
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    request = _Request()
    fixed = InternalTokenRateThrottle()
    with override_settings(API_THROTTLE_RATE=RATE):
        cache.clear()
        stats = time_calls(lambda: fixed.allow_request(request, None), n=N)
    figures.append(Figure(name=f"throttle fixed window allow_request ({backend})", **stats, goal="small next to 1 ms"))
    cache.clear()
    stats = time_calls(lambda: _shared_add("throttle:bench", 1, 60), n=N)
    figures.append(Figure(name=f"throttle unbatched: one cache.incr a request ({backend})", **stats))
    cache.clear()
    # DRF's history grows by one entry per request: its cost grows with the rate.
    stats = time_calls(_history_throttle(), n=N)
    figures.append(
        Figure(name=f"throttle DRF SimpleRateThrottle allow_request ({backend})", **stats, notes="history list")
    )

    client = APIClient()
    client.credentials(HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])
    body = {
        "user_id": "bench-user",
        "amount_sats": 5000,
        "time_since_last_sec": 3600.0,
        "invoices_last_min": 0,
        "device_changes": 0,
        "location_changes": 0,
    }

    def call():
        response = client.post("/api/fraud/check", body, format="json")
        assert response.status_code == 200, response.content

    for label, rate in (("off", ""), ("on", RATE)):
        with override_settings(API_THROTTLE_RATE=rate):
            stats = time_calls(call, n=1000)
        figures.append(Figure(name=f"fraud check via test client, throttle {label} ({backend})", **stats))
    return figures
