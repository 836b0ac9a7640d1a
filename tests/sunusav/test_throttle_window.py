"""Issue 18: the throttle's sliding window, on the real shared cache, with time injected.

A fixed window let `limit` requests through at the end of a minute and
`limit` more at the start of the next; the sliding window carries the
previous minute's count over the boundary.
"""

from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import Client

from sunusav.api.throttling import InternalTokenRateThrottle, throttle_reset

pytestmark = pytest.mark.django_db

MINUTE = 60
# Any minute boundary will do; this one is far from the real clock's.
BOUNDARY = 1_000 * MINUTE


@pytest.fixture
def clock(monkeypatch):
    """The throttle's time, set by the test: `clock.now = ...`."""
    state = SimpleNamespace(now=float(BOUNDARY))
    monkeypatch.setattr(InternalTokenRateThrottle, "timer", staticmethod(lambda: state.now))
    cache.clear()
    throttle_reset()
    yield state
    throttle_reset()


def _statuses(settings, count: int) -> list[int]:
    client = Client()
    token = {"HTTP_X_INTERNAL_TOKEN": settings.AI_INTERNAL_TOKENS[0]}
    return [client.get("/api/fraud/health", **token).status_code for _ in range(count)]


def test_a_burst_on_each_side_of_a_minute_boundary_gets_the_limit_once_not_twice(settings, clock):
    settings.API_THROTTLE_RATE = "10/min"
    clock.now = BOUNDARY - 1.5  # the last seconds of a minute
    assert _statuses(settings, 11) == [200] * 10 + [429]
    clock.now = BOUNDARY + 1.0  # the first second of the next: a fixed window would admit 10 more
    assert _statuses(settings, 10) == [429] * 10


def test_the_rate_comes_back_as_the_previous_window_weighs_less(settings, clock):
    settings.API_THROTTLE_RATE = "10/min"
    clock.now = BOUNDARY - 1.0
    assert _statuses(settings, 10) == [200] * 10
    # Halfway through the next minute the previous one counts for half (5): 5 more fit.
    clock.now = BOUNDARY + MINUTE / 2
    assert _statuses(settings, 6) == [200] * 5 + [429]
    # Halfway through the one after: the previous minute admitted 5, weighing 2.5, so 7 fit.
    clock.now = BOUNDARY + MINUTE + MINUTE / 2
    assert _statuses(settings, 8) == [200] * 7 + [429]


def test_refused_requests_are_not_counted(settings, clock):
    """A caller that keeps sending past its limit still gets its limit in the next window."""
    settings.API_THROTTLE_RATE = "10/min"
    clock.now = BOUNDARY - MINUTE + 1.0
    assert _statuses(settings, 30).count(200) == 10
    # Halfway through the next minute the previous one weighs 10 / 2 (its 10 admitted, not its 30
    # requests, which would weigh 15 and refuse everything).
    clock.now = BOUNDARY + MINUTE / 2
    assert _statuses(settings, 11).count(200) == 5


def test_another_process_sees_the_previous_window_through_the_shared_cache(settings, clock):
    settings.API_THROTTLE_RATE = "10/min"
    clock.now = BOUNDARY - 1.0
    assert _statuses(settings, 10) == [200] * 10
    throttle_reset()  # "another gunicorn worker": nothing local, only the shared counters
    clock.now = BOUNDARY + 1.0
    assert _statuses(settings, 1) == [429]


def test_retry_after_says_when_a_request_fits_again(settings, clock):
    settings.API_THROTTLE_RATE = "10/min"
    clock.now = BOUNDARY - 1.0
    _statuses(settings, 10)
    clock.now = BOUNDARY + 3.0
    refused = Client().get("/api/fraud/health", HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])
    assert refused.status_code == 429
    # One more fits when 10 * (1 - t/60) + 1 <= 10, from t = 6 s: in 3 seconds (a fixed window said 57).
    assert int(refused["Retry-After"]) == 3
    clock.now = BOUNDARY + 6.0
    assert _statuses(settings, 1) == [200]


def test_batched_pushes_keep_the_bound_at_high_rates(settings, clock):
    """1,000/min pushes every 10 requests: across a boundary, two processes admit about the limit, not twice it."""
    settings.API_THROTTLE_RATE = "1000/min"
    throttle = InternalTokenRateThrottle()
    request = SimpleNamespace(auth="batch-fingerprint")

    def admitted(count: int) -> int:
        return sum(throttle.allow_request(request, None) for _ in range(count))

    clock.now = BOUNDARY - 1.0
    first = admitted(600)
    throttle_reset()  # a second process takes the rest of the burst
    first += admitted(600)
    assert 1000 <= first <= 1000 + 2 * 10
    clock.now = BOUNDARY + 1.0
    early = admitted(1000)
    assert early <= 2 * 10 + 1000 / MINUTE  # a fixed window would admit 1,000 here
    clock.now = BOUNDARY + MINUTE / 2
    later = admitted(1000)
    # Half a minute in, the window holds what the previous one's half weight leaves.
    assert abs(early + later - (1000 - first / 2)) <= 2 * 10, (first, early, later)
