"""Redis stopped: as the broker, enqueuing fails loudly; as the cache, decisions go on and pages answer cleanly."""

import logging
import shutil
import socket
import subprocess
import time

import pytest
from django_q.conf import Conf

from alerts.models import Notification
from tests.factories import MemberFactory, MembershipFactory, TontineFactory, suspicious_history

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dead_redis(monkeypatch, tmp_path):
    """A private redis-server, started then stopped: the broker points at a Redis that is gone."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed for this test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    for _ in range(50):
        try:
            redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    monkeypatch.setattr(Conf, "BROKER_CLASS", "sunusav.brokers.ReliableRedis")
    monkeypatch.setattr(Conf, "REDIS", url)
    server.terminate()
    server.wait(timeout=10)
    return url


def test_enqueue_with_redis_down_is_a_503_json_not_a_silent_loss(api_client, dead_redis):
    tontine = TontineFactory()
    MembershipFactory(tontine=tontine, position=1)
    response = api_client.post("/api/events/cycle-completed", {"tontine_id": str(tontine.pk)}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "queue_unavailable"
    assert response["Retry-After"]


def test_a_held_payment_still_reaches_the_outbox_when_redis_is_down(api_client, dead_redis):
    """The delivery nudge is best effort: the outbox row is committed and the schedule sends it."""
    import uuid

    member = MemberFactory()
    suspicious_history(member)
    body = {
        "payment_id": str(uuid.uuid4()),
        "user_id": str(member.pk),
        "kind": "invoice",
        "amount_sats": 1_000_000,
        "device_id": "device-9",
        "location": "place-9",
    }
    response = api_client.post("/api/events/payment", body, format="json")
    assert response.status_code == 200 and response.json()["decision"] == "hold"
    assert Notification.objects.filter(kind="payment_held", status="pending").count() == 1


# --- The shared cache on a private Redis that stops (issue 18) ------------------------------------


class PrivateRedis:
    """A redis-server of this test's own on a free port (never the shared one on 6379), stopped and restarted at will."""

    def __init__(self, workdir):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is needed for this test")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        import redis

        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                redis.from_url(self.url).ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail("the private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def cache_redis(settings, tmp_path):
    """Point the cache at a private, running Redis (as REDIS_URL does); stop it with `.stop()`."""
    from axes.handlers.proxy import AxesProxyHandler

    from sunusav import health
    from sunusav.api.throttling import throttle_reset

    server = PrivateRedis(tmp_path).start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    AxesProxyHandler.get_implementation(force=True)  # axes keeps the cache it started with
    throttle_reset()
    health._CACHE.reset()
    yield server
    server.stop()
    throttle_reset()
    health._CACHE.reset()
    AxesProxyHandler.implementation = None  # the next user builds it on the restored cache


FRAUD = {
    "user_id": "redis-down-user",
    "amount_sats": 12_000,
    "time_since_last_sec": 86_400,
    "invoices_last_min": 0,
    "device_changes": 0,
    "location_changes": 0,
}


def _check(client):
    from django.conf import settings

    return client.post(
        "/api/fraud/check", FRAUD, content_type="application/json", HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0]
    )


def _value(name, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_fraud_check_answers_json_while_the_cache_redis_is_down(settings, cache_redis, caplog):
    import redis
    from django.test import Client

    settings.API_THROTTLE_RATE = "60/min"  # chunk 1: every request pushes to Redis
    client = Client(raise_request_exception=False)
    assert _check(client).status_code == 200
    assert any(k.startswith(b":1:throttle:") for k in redis.from_url(cache_redis.url).keys("*"))

    errors = _value("sunusav_cache_errors_total", component="throttle")
    cache_redis.stop()
    with caplog.at_level(logging.INFO, logger="sunusav.cache"):
        answers = [_check(client) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert all(a["Content-Type"] == "application/json" and a.json()["decision"] for a in answers)
    # Counted, and logged once for the outage (not once a request): later calls wait for the retry time.
    assert _value("sunusav_cache_errors_total", component="throttle") == errors + 1
    assert [r.getMessage() for r in caplog.records if r.name == "sunusav.cache"] == ["cache.down"]
    assert _value("sunusav_throttle_fail_open_total") >= 5


def test_the_per_worker_fallback_limit_holds_while_the_cache_is_down(settings, cache_redis):
    from django.test import Client

    settings.API_THROTTLE_RATE = "8/min"
    settings.API_THROTTLE_WORKERS = 2  # each worker alone: 8 / 2 = 4 a minute
    cache_redis.stop()
    client = Client(raise_request_exception=False)
    codes = [_check(client).status_code for _ in range(5)]
    assert codes == [200] * 4 + [429]


def test_the_throttle_uses_the_cache_again_once_redis_is_back(settings, cache_redis, caplog, monkeypatch):
    import redis
    from django.test import Client

    from sunusav.api.throttling import InternalTokenRateThrottle

    # One second into a minute: the outage and the recovery fall in one window (one shared key), whenever it runs.
    clock = [time.time() // 60 * 60 + 1]
    monkeypatch.setattr(InternalTokenRateThrottle, "timer", staticmethod(lambda: clock[0]))
    settings.API_THROTTLE_RATE = "60/min"
    client = Client(raise_request_exception=False)
    cache_redis.stop()
    assert _check(client).status_code == 200
    cache_redis.start()  # same port, empty
    clock[0] += 6  # past the retry interval
    with caplog.at_level(logging.INFO, logger="sunusav.cache"):
        assert _check(client).status_code == 200
    assert "cache.up" in [r.getMessage() for r in caplog.records if r.name == "sunusav.cache"]
    # Both requests are in the shared counter now (the one admitted during the outage was pushed too).
    (key,) = [k for k in redis.from_url(cache_redis.url).keys("*") if b"throttle:" in k]
    assert int(redis.from_url(cache_redis.url).get(key)) == 2


def test_health_reports_the_cache_down_but_still_answers(cache_redis):
    from django.test import Client

    client = Client(raise_request_exception=False)
    assert client.get("/health").json()["cache"] == "ok"
    cache_redis.stop()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["cache"] == "down"


def test_an_api_view_that_needs_the_cache_answers_503_json(cache_redis):
    from django.core.cache import cache
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    class NeedsTheCache(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        def get(self, request):
            return Response({"value": cache.get("k")})

    cache_redis.stop()
    response = NeedsTheCache.as_view()(APIRequestFactory().get("/api/needs-the-cache"))
    response.render()
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.data["code"] == "cache_unavailable" and response["Retry-After"]


def test_admin_login_refuses_cleanly_in_french_when_axes_cannot_reach_the_cache(
    settings, cache_redis, django_user_model
):
    from django.test import Client
    from django.urls import reverse

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user("analyste-r", password="right-password-123", is_staff=True)
    client = Client(raise_request_exception=False)
    url = reverse("admin:login")
    assert client.get(url).status_code == 200  # the form itself needs no cache
    cache_redis.stop()
    response = client.post(url, {"username": "analyste-r", "password": "right-password-123"})
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "La connexion est impossible pour le moment" in page and 'lang="fr"' in page
    assert "_auth_user_id" not in client.session


def test_an_open_back_office_session_keeps_working_while_the_cache_is_down(settings, cache_redis, django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_superuser("admin-r", "a@example.sn", "pw-admin-r-2026")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    cache_redis.stop()
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/sunusav/member/").status_code == 200


def test_the_dashboard_recomputes_its_figures_while_the_cache_is_down(settings, cache_redis, django_user_model):
    """The dashboard caches only to go faster: with Redis down an analyst still reads it (not the 503 page)."""
    from django.test import Client

    from backoffice import selectors

    user = django_user_model.objects.create_superuser("admin-d", "d@example.sn", "pw-admin-d-2026")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    assert client.get("/admin/dashboard/").status_code == 200
    cache_redis.stop()
    selectors.cache.outage.reset()
    response = client.get("/admin/dashboard/")
    assert response.status_code == 200, response.content[:300]
    assert selectors.cache.outage.down
    selectors.cache.outage.reset()
