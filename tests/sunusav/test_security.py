"""Issue 7: auth on every API, throttles, body and batch limits, strict input, idempotency, OpenAPI, deploy, lockout."""

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from alerts.models import AIMetric
from sunusav.api.auth import token_fingerprint
from sunusav.api.throttling import parse_rate, throttle_reset
from sunusav.models import Payment
from tests.factories import MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

FRAUD = {
    "user_id": "sec-user",
    "amount_sats": 12_000,
    "time_since_last_sec": 86_400,
    "invoices_last_min": 0,
    "device_changes": 0,
    "location_changes": 0,
}
CREDIT = {
    "user_id": "sec-user",
    "tontine_contributions": 120_000.0,
    "punctuality_rate": 0.9,
    "contributions_count": 12,
    "mobile_tx_volume": 50_000.0,
    "avg_payment_delay_days": 1.5,
    "community_endorsements": 2,
}
POSTS = {
    "/api/credit/predict": CREDIT,
    "/api/credit/batch-predict": {"items": [CREDIT]},
    "/api/fraud/check": FRAUD,
    "/api/fraud/batch-check": {"items": [FRAUD]},
    "/api/events/payment": {"payment_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "amount_sats": 5},
    "/api/events/cycle-completed": {"tontine_id": str(uuid.uuid4())},
}
GETS = ["/api/credit/health", "/api/fraud/health", "/api/queues/stats"]


@pytest.fixture(autouse=True)
def _fresh_throttle(settings):
    from django.core.cache import cache

    cache.clear()
    throttle_reset()
    yield
    throttle_reset()


def _post(client, url, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **headers)


# --- Authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "wrong", "dev-internal", "dev-internal-token-and-more"])
@pytest.mark.parametrize("url", [*POSTS, *GETS])
def test_every_api_endpoint_needs_a_valid_token(url, header):
    headers = {} if header is None else {"HTTP_X_INTERNAL_TOKEN": header}
    client = Client()
    response = _post(client, url, POSTS[url], **headers) if url in POSTS else client.get(url, **headers)
    assert response.status_code == 401, (url, response.content)
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert AIMetric.objects.count() == 0


def test_health_and_openapi_are_public():
    client = Client()
    assert client.get("/health").status_code in (200, 503)
    assert client.get("/api/schema/").status_code == 200


def test_rotation_both_tokens_work_and_each_decision_records_its_fingerprint(settings):
    old, new = "old-token-aaaaaaaaaaaaaaaaaaaaaaaa", "new-token-bbbbbbbbbbbbbbbbbbbbbbbb"
    settings.AI_INTERNAL_TOKENS = [old, new]
    client = Client()
    for token in (old, new):
        assert _post(client, "/api/fraud/check", FRAUD, HTTP_X_INTERNAL_TOKEN=token).status_code == 200
        assert _post(client, "/api/credit/predict", CREDIT, HTTP_X_INTERNAL_TOKEN=token).status_code == 200
    tokens = sorted((m.metric_key, m.meta["token"]) for m in AIMetric.objects.all())
    assert tokens == sorted(
        [(key, token_fingerprint(t)) for key in ("fraud_check", "credit_prediction") for t in (old, new)]
    )
    settings.AI_INTERNAL_TOKENS = [new]  # rotation done: the old token is refused
    assert _post(client, "/api/fraud/check", FRAUD, HTTP_X_INTERNAL_TOKEN=old).status_code == 401


def test_payment_event_records_the_token_fingerprint(api_client):
    member = MemberFactory()
    body = {"payment_id": str(uuid.uuid4()), "user_id": str(member.pk), "amount_sats": 5_000}
    assert _post(api_client, "/api/events/payment", body).status_code == 200
    (row,) = AIMetric.objects.filter(metric_key="fraud_check")
    assert row.meta["token"] == token_fingerprint(settings.AI_INTERNAL_TOKENS[0])


def test_tokens_never_reach_logs_errors_or_the_admin(settings, caplog, admin_client):
    secret = "secret-token-cccccccccccccccccccccccc"
    settings.AI_INTERNAL_TOKENS = [secret]
    client = Client()
    with caplog.at_level(logging.DEBUG):
        wrong = _post(client, "/api/fraud/check", FRAUD, HTTP_X_INTERNAL_TOKEN=secret[:-1])
        ok = _post(client, "/api/fraud/check", FRAUD, HTTP_X_INTERNAL_TOKEN=secret)
        bad = _post(client, "/api/fraud/check", {**FRAUD, "x": 1}, HTTP_X_INTERNAL_TOKEN=secret)
    assert (wrong.status_code, ok.status_code, bad.status_code) == (401, 200, 400)
    for response in (wrong, ok, bad):
        assert secret[:12] not in response.content.decode()
    assert secret[:12] not in caplog.text
    metric = AIMetric.objects.get()
    assert secret[:12] not in json.dumps(metric.meta)
    page = admin_client.get(reverse("admin:alerts_aimetric_change", args=[metric.pk]))
    assert page.status_code == 200 and secret[:12] not in page.content.decode()


# --- Throttling ------------------------------------------------------------------------------


def test_rate_parsing():
    assert parse_rate("1000/s") == (1000, 1)
    assert parse_rate("60000/min") == (60000, 60)
    assert parse_rate("") is None
    with pytest.raises(ValueError):
        parse_rate("fast")


def test_throttle_is_per_token_with_429_and_retry_after(settings):
    settings.API_THROTTLE_RATE = "3/min"
    settings.AI_INTERNAL_TOKENS = ["token-a-aaaaaaaaaaaaaaaaaaaaaaaa", "token-b-bbbbbbbbbbbbbbbbbbbbbbbb"]
    client = Client()
    codes = [
        client.get("/api/fraud/health", HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0]).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    refused = client.get("/api/fraud/health", HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])
    # Sliding window: when this minute is full, a request fits again once the next minute has
    # begun and this one weighs less (here 20 s into it), so the wait may exceed the minute.
    assert refused["Content-Type"] == "application/json" and 1 <= int(refused["Retry-After"]) <= 2 * 60
    assert "throttled" in json.dumps(refused.json()).lower() or "detail" in refused.json()
    # Another token has its own budget.
    assert client.get("/api/fraud/health", HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[1]).status_code == 200


def test_throttle_counts_in_the_shared_cache(settings):
    """A second process (simulated by forgetting this one's local counts) sees the first one's requests."""
    settings.API_THROTTLE_RATE = "3/min"
    client = Client()
    token = {"HTTP_X_INTERNAL_TOKEN": settings.AI_INTERNAL_TOKENS[0]}
    assert [client.get("/api/fraud/health", **token).status_code for _ in range(3)] == [200] * 3
    throttle_reset()  # "another gunicorn worker": no local state, only the shared cache
    assert client.get("/api/fraud/health", **token).status_code == 429


def test_default_rate_is_above_the_fraud_target():
    count, seconds = parse_rate(settings.API_THROTTLE_RATE)
    assert count / seconds >= 2000  # the fraud check's target is 1,000 requests/s per caller


# --- Body, batch, strict input ---------------------------------------------------------------


@pytest.mark.parametrize("url", list(POSTS))
def test_body_over_the_limit_is_413_json(api_client, url):
    body = json.dumps({"items": [FRAUD] * 14_000})
    assert len(body) > 2_000_000
    response = _post(api_client, url, body)
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert AIMetric.objects.count() == 0


@pytest.mark.parametrize(("url", "item"), [("/api/credit/batch-predict", CREDIT), ("/api/fraud/batch-check", FRAUD)])
def test_batch_of_1001_is_400_on_items(api_client, url, item):
    response = _post(api_client, url, {"items": [item] * 1001})
    assert response.status_code == 400 and "items" in response.json()


BAD_CREDIT = [
    ("empty body", "", None),
    ("non-JSON", "{not json", None),
    ("missing user_id", {k: v for k, v in CREDIT.items() if k != "user_id"}, "user_id"),
    ("wrong type", {**CREDIT, "contributions_count": "12"}, "contributions_count"),
    ("NaN string", {**CREDIT, "mobile_tx_volume": "NaN"}, "mobile_tx_volume"),
    ("NaN literal", json.dumps(CREDIT).replace("50000.0", "NaN"), "mobile_tx_volume"),
    ("1e400", json.dumps(CREDIT).replace("50000.0", "1e400"), "mobile_tx_volume"),
    ("negative", {**CREDIT, "tontine_contributions": -1}, "tontine_contributions"),
    ("punctuality above 1", {**CREDIT, "punctuality_rate": 1.01}, "punctuality_rate"),
    ("unknown field", {**CREDIT, "phone": "+221770000000"}, "phone"),
]
BAD_FRAUD = [
    ("empty body", "", None),
    ("non-JSON", "[1,", None),
    ("missing user_id", {k: v for k, v in FRAUD.items() if k != "user_id"}, "user_id"),
    ("wrong type", {**FRAUD, "amount_sats": "12000"}, "amount_sats"),
    ("NaN string", {**FRAUD, "time_since_last_sec": "NaN"}, "time_since_last_sec"),
    ("NaN literal", json.dumps(FRAUD).replace("86400", "NaN"), "time_since_last_sec"),
    ("1e400", json.dumps(FRAUD).replace("86400", "1e400"), "time_since_last_sec"),
    ("negative amount", {**FRAUD, "amount_sats": -5}, "amount_sats"),
    ("unknown field", {**FRAUD, "msisdn": "+221770000000"}, "msisdn"),
]


@pytest.mark.parametrize(("url", "case", "body", "field"), [
    *[("/api/credit/predict", *c) for c in BAD_CREDIT],
    *[("/api/fraud/check", *c) for c in BAD_FRAUD],
])  # fmt: skip
def test_bad_input_is_400_naming_the_field(api_client, url, case, body, field):
    response = _post(api_client, url, body)
    assert response.status_code == 400, (case, response.content)
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    assert field in payload if field else "detail" in payload or payload
    assert AIMetric.objects.count() == 0


def test_bad_event_is_400_naming_the_field(api_client):
    member = MemberFactory()
    base = {"payment_id": str(uuid.uuid4()), "user_id": str(member.pk), "amount_sats": 5_000}
    for body, field in [
        ({**base, "amount_sats": -1}, "amount_sats"),
        ({**base, "amount_sats": 1.5}, "amount_sats"),
        ({**base, "extra": 1}, "extra"),
        ({k: v for k, v in base.items() if k != "user_id"}, "user_id"),
    ]:
        response = _post(api_client, "/api/events/payment", body)
        assert response.status_code == 400 and field in response.json(), body
    assert Payment.objects.count() == 0


# --- Idempotency by payment id ---------------------------------------------------------------


def test_payment_event_is_idempotent_by_payment_id(api_client):
    member = MemberFactory()
    body = {"payment_id": str(uuid.uuid4()), "user_id": str(member.pk), "amount_sats": 5_000}
    first = _post(api_client, "/api/events/payment", body).json()
    again = _post(api_client, "/api/events/payment", body).json()
    assert {k: v for k, v in again.items() if k != "replay"} == {k: v for k, v in first.items() if k != "replay"}
    conflict = _post(api_client, "/api/events/payment", {**body, "amount_sats": 6_000})
    assert conflict.status_code == 409 and "payment_id" in conflict.json()
    assert Payment.objects.count() == 1


def test_fraud_check_with_payment_id_answers_the_first_decision_again(api_client):
    payment = PaymentFactory(amount_sats=12_000)
    body = {**FRAUD, "user_id": str(payment.member_id), "payment_id": str(payment.pk)}
    first = _post(api_client, "/api/fraud/check", body).json()
    again = _post(api_client, "/api/fraud/check", body).json()
    keys = ("decision", "fraud_score", "is_fraud", "model_version", "payment_id")
    assert {k: again[k] for k in keys} == {k: first[k] for k in keys}
    assert Payment.objects.count() == 1


# --- OpenAPI ------------------------------------------------------------------------------------


def test_schema_describes_every_endpoint_and_the_docs_page_needs_no_cdn():
    client = Client()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for url in POSTS:
        operation = paths[url]["post"]
        assert "requestBody" in operation, url
        assert {"200", "202"} & set(operation["responses"]) and "400" in operation["responses"], url
        assert operation["security"] == [{"InternalToken": []}], url
    for url in GETS:
        assert "200" in paths[url]["get"]["responses"], url
    assert schema["components"]["securitySchemes"]["InternalToken"]["name"] == "X-Internal-Token"
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


# --- Deployment --------------------------------------------------------------------------------


def test_check_deploy_is_clean_with_production_environment(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "DEBUG": "false",
        "SECRET_KEY": "prod-secret-key-0123456789abcdefghijklmnopqrstuvwxyz!@#$%^",
        "AI_INTERNAL_TOKENS": "prod-token-aaaaaaaaaaaaaaaaaaaaaaaa,prod-token-bbbbbbbbbbbbbbbbbbbbbbbb",
        "ALLOWED_HOSTS": "risk.sunusav.sn",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_admin_locks_an_account_after_repeated_failed_logins(settings, django_user_model):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in the test
    django_user_model.objects.create_superuser("analyst", "a@example.sn", "right-password-123")
    client = Client()
    url = reverse("admin:login")
    codes = [
        client.post(url, {"username": "analyst", "password": "wrong"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form again, then the lock
    locked = client.post(url, {"username": "analyst", "password": "right-password-123"})
    assert locked.status_code == 429  # locked even with the right password
    assert "_auth_user_id" not in client.session
    # Another analyst is not locked out (accounts, not the shared proxy address).
    django_user_model.objects.create_superuser("other", "o@example.sn", "other-password-123")
    assert client.post(url, {"username": "other", "password": "other-password-123"}).status_code == 302
    # Lockouts live in the shared cache, so every process sees them.
    from django.core.cache import cache

    if cache.__class__.__name__ == "DatabaseCache":
        assert any("axes" in key.lower() for key in _cache_keys(cache))


def _cache_keys(cache) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cache_key FROM {settings.CACHES['default']['LOCATION']}")
        return [row[0] for row in cursor.fetchall()]
