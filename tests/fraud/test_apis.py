"""The fraud API: the seed's calls, holds through payment_id, batches, health, and every bad input."""

import json

import pytest
from django.conf import settings

from alerts.models import AIAlert, AIMetric
from sunusav.api.auth import token_fingerprint
from sunusav.models import Payment
from tests.factories import PaymentFactory
from tests.fraud.conftest import ORDINARY, SEED_EXAMPLE

pytestmark = pytest.mark.django_db


def _post(client, url, body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json")


def test_seed_curl_example_is_held_and_audited(api_client, fraud_model):
    response = _post(api_client, "/api/fraud/check", SEED_EXAMPLE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["decision"] == "hold" and body["is_fraud"] is True and body["fallback"] is False
    assert body["model_version"] == fraud_model.version and 0 <= body["fraud_score"] <= 1
    assert body["payment_id"] is None and body["replay"] is False
    metric = AIMetric.objects.get()
    assert metric.metric_key == "fraud_check" and metric.user is None
    assert metric.meta["user_id"] == "test-user"
    assert metric.meta["token"] == token_fingerprint(settings.AI_INTERNAL_TOKENS[0])
    assert metric.metric_value == pytest.approx(body["fraud_score"])


def test_ordinary_payment_is_allowed(api_client, fraud_model):
    body = _post(api_client, "/api/fraud/check", ORDINARY).json()
    assert (body["decision"], body["is_fraud"]) == ("allow", False)


def test_payment_id_holds_once(api_client, fraud_model):
    payment = PaymentFactory(status=Payment.Status.PENDING)
    body = {**SEED_EXAMPLE, "user_id": str(payment.member_id), "payment_id": str(payment.pk)}
    first = _post(api_client, "/api/fraud/check", body).json()
    second = _post(api_client, "/api/fraud/check", body).json()
    assert first["payment_status"] == second["payment_status"] == "held"
    assert (first["decision"], second["decision"], second["replay"]) == ("hold", "hold", True)
    assert AIAlert.objects.count() == 1
    assert AIMetric.objects.filter(user=payment.member).count() == 2


def test_batch_results_keep_order(api_client, fraud_model):
    items = [SEED_EXAMPLE, ORDINARY] * 3
    response = _post(api_client, "/api/fraud/batch-check", {"items": items})
    assert response.status_code == 200
    assert [r["decision"] for r in response.json()["results"]] == ["hold", "allow"] * 3
    assert AIMetric.objects.count() == 6


def test_batch_of_the_limit_is_accepted(api_client, fraud_model):
    response = _post(api_client, "/api/fraud/batch-check", {"items": [ORDINARY] * settings.API_BATCH_LIMIT})
    assert response.status_code == 200 and len(response.json()["results"]) == settings.API_BATCH_LIMIT


def test_health_ok_with_model_and_degraded_without(api_client, db, settings, tmp_path):
    settings.ML_ARTIFACTS_DIR = tmp_path
    body = api_client.get("/api/fraud/health").json()
    assert body["status"] == "degraded" and body["model_version"] is None
    assert body["thresholds"] == {"review": 0.5, "hold": 0.8}


def test_health_ok_with_model(api_client, fraud_model):
    body = api_client.get("/api/fraud/health").json()
    assert (body["status"], body["model_version"], body["serving"]) == ("ok", fraud_model.version, "onnx")


def test_token_required(anon_client, db):
    assert _post(anon_client, "/api/fraud/check", SEED_EXAMPLE).status_code == 401
    assert anon_client.get("/api/fraud/health").status_code == 401


WITHOUT_AMOUNT = {k: v for k, v in SEED_EXAMPLE.items() if k != "amount_sats"}
NAN_BODY = json.dumps(SEED_EXAMPLE).replace('"time_since_last_sec": 5', '"time_since_last_sec": NaN')
INF_BODY = json.dumps(SEED_EXAMPLE).replace('"amount_sats": 1000000', '"amount_sats": Infinity')


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (WITHOUT_AMOUNT, "amount_sats"),
        ({**SEED_EXAMPLE, "merchant": "x"}, "merchant"),
        ({**SEED_EXAMPLE, "amount_sats": -5}, "amount_sats"),
        ({**SEED_EXAMPLE, "amount_sats": 0}, "amount_sats"),
        ({**SEED_EXAMPLE, "amount_sats": 10.5}, "amount_sats"),
        ({**SEED_EXAMPLE, "amount_sats": "1000"}, "amount_sats"),
        ({**SEED_EXAMPLE, "amount_sats": True}, "amount_sats"),
        ({**SEED_EXAMPLE, "invoices_last_min": -1}, "invoices_last_min"),
        ({**SEED_EXAMPLE, "device_changes": "3"}, "device_changes"),
        ({**SEED_EXAMPLE, "time_since_last_sec": -1}, "time_since_last_sec"),
        ({**SEED_EXAMPLE, "time_since_last_sec": "5"}, "time_since_last_sec"),
        ({**SEED_EXAMPLE, "user_id": None}, "user_id"),
        ({**SEED_EXAMPLE, "payment_id": "not-a-uuid"}, "payment_id"),
        ({**SEED_EXAMPLE, "payment_id": "6c0a3f7e-1b1e-4c4e-9a55-3d0b7c1f2a10"}, "payment_id"),
        (NAN_BODY, "time_since_last_sec"),
        (INF_BODY, "amount_sats"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(api_client, fraud_model, body, field):
    response = _post(api_client, "/api/fraud/check", body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not AIMetric.objects.exists() and not AIAlert.objects.exists()


def test_payment_of_another_member_is_400_on_user_id(api_client, fraud_model):
    payment = PaymentFactory(status=Payment.Status.PENDING)
    response = _post(api_client, "/api/fraud/check", {**SEED_EXAMPLE, "payment_id": str(payment.pk)})
    assert response.status_code == 400 and "user_id" in response.json()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and not AIMetric.objects.exists()


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("{not json", "detail"),
        ("[1, 2]", "non_field_errors"),
        ({"items": []}, "items"),
        ({"items": [ORDINARY] * 1001}, "items"),
        ({"items": [ORDINARY, {**ORDINARY, "amount_sats": -1}]}, "items"),
        ({"items": [ORDINARY], "extra": 1}, "extra"),
        ({}, "items"),
    ],
)
def test_bad_batch_is_400_and_writes_nothing(api_client, fraud_model, body, key):
    response = _post(api_client, "/api/fraud/batch-check", body)
    assert response.status_code == 400, response.content
    assert key in response.json()
    assert not AIMetric.objects.exists()


def test_bad_item_in_batch_is_named_by_position(api_client, fraud_model):
    payment = PaymentFactory(status=Payment.Status.PENDING)
    items = [
        {**SEED_EXAMPLE, "user_id": str(payment.member_id), "payment_id": str(payment.pk)},
        {**ORDINARY, "payment_id": "6c0a3f7e-1b1e-4c4e-9a55-3d0b7c1f2a10"},
    ]
    response = _post(api_client, "/api/fraud/batch-check", {"items": items})
    assert response.status_code == 400
    assert response.json()["items"][1] == {"payment_id": ["Unknown payment."]}
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert not AIMetric.objects.exists() and not AIAlert.objects.exists()


@pytest.mark.django_db
def test_same_payment_checked_with_another_body_is_409_and_changes_nothing(api_client):
    from alerts.models import AIMetric
    from tests.factories import PaymentFactory

    payment = PaymentFactory()
    body = {
        "user_id": str(payment.member_id),
        "payment_id": str(payment.pk),
        "amount_sats": 5_000,
        "time_since_last_sec": 3600.0,
        "invoices_last_min": 0,
        "device_changes": 0,
        "location_changes": 0,
    }
    first = api_client.post("/api/fraud/check", body, format="json")
    assert first.status_code == 200
    again = api_client.post("/api/fraud/check", body, format="json")
    assert again.status_code == 200 and again.json()["decision"] == first.json()["decision"]
    rows = AIMetric.objects.count()
    conflict = api_client.post("/api/fraud/check", {**body, "amount_sats": 900_000}, format="json")
    assert conflict.status_code == 409 and "payment_id" in conflict.json()
    batch = api_client.post("/api/fraud/batch-check", {"items": [{**body, "invoices_last_min": 9}]}, format="json")
    assert batch.status_code == 409
    assert AIMetric.objects.count() == rows
    payment.refresh_from_db()
    assert payment.status != "held"


@pytest.mark.parametrize("user_id", ["+221 77 123 45 67", "00221 77 123 45 67", "77.123.45.67", "771234567"])
@pytest.mark.parametrize("url", ["/api/fraud/check", "/api/fraud/batch-check"])
def test_a_phone_number_as_user_id_is_400_and_stored_nowhere(api_client, fraud_model, url, user_id):
    item = {**ORDINARY, "user_id": user_id}
    body = item if url == "/api/fraud/check" else {"items": [ORDINARY, item]}
    response = _post(api_client, url, body)
    assert response.status_code == 400, response.content
    errors = response.json() if url == "/api/fraud/check" else response.json()["items"]["1"]
    assert "phone numbers are not accepted here" in errors["user_id"][0].lower()
    assert "keyed hash" in errors["user_id"][0]
    assert user_id not in response.content.decode()
    assert not AIMetric.objects.exists()


def test_an_allowed_payment_checked_again_is_a_replay(api_client, fraud_model):
    payment = PaymentFactory(status=Payment.Status.PENDING)
    body = {**ORDINARY, "user_id": str(payment.member_id), "payment_id": str(payment.pk)}
    answers = [_post(api_client, "/api/fraud/check", body).json() for _ in range(3)]
    assert [(a["decision"], a["replay"]) for a in answers] == [("allow", False), ("allow", True), ("allow", True)]
    rows = AIMetric.objects.filter(metric_key="fraud_check", user=payment.member)
    assert sorted(r.meta["replay"] for r in rows) == [False, True, True]


@pytest.mark.parametrize("url", ["/api/fraud/check", "/api/fraud/batch-check"])
def test_a_hold_through_the_check_api_tells_the_member_once_like_the_payment_event(
    api_client, fraud_model, url, django_capture_on_commit_callbacks
):
    from alerts.models import Notification

    payment = PaymentFactory(status=Payment.Status.PENDING, amount_sats=1_000_000)
    item = {**SEED_EXAMPLE, "user_id": str(payment.member_id), "payment_id": str(payment.pk)}
    body = item if url == "/api/fraud/check" else {"items": [item]}
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert _post(api_client, url, body).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.HELD
    (notification,) = Notification.objects.filter(member=payment.member)
    assert (notification.kind, notification.payload["payment_id"]) == ("payment_held", str(payment.pk))


def test_the_hold_notification_commits_with_the_hold_or_not_at_all(api_client, fraud_model, monkeypatch):
    from alerts.models import Notification
    from fraud import services

    def broken(**kwargs):
        raise RuntimeError("audit write failed")

    monkeypatch.setattr(services, "fraud_check_record", broken)
    payment = PaymentFactory(status=Payment.Status.PENDING, amount_sats=1_000_000)
    body = {**SEED_EXAMPLE, "user_id": str(payment.member_id), "payment_id": str(payment.pk)}
    with pytest.raises(RuntimeError):
        _post(api_client, "/api/fraud/check", body)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert not Notification.objects.exists() and not AIAlert.objects.exists()
