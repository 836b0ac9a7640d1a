"""Credit API: the seed's bodies, strict 400s that write nothing, token required, health."""

import json

import pytest

from alerts.models import AIMetric
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

SEED_BODY = {
    "user_id": "test-user",
    "tontine_contributions": 50000,
    "punctuality_rate": 0.9,
    "contributions_count": 10,
    "mobile_tx_volume": 100000,
    "avg_payment_delay_days": 1,
    "community_endorsements": 5,
}
OUTPUT_KEYS = {"user_id", "score", "confidence", "band", "reasons", "model_version", "fallback"}


def test_predict_answers_the_seed_body_and_writes_an_audit_row(api_client, trained_model):
    response = api_client.post("/api/credit/predict", SEED_BODY, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == OUTPUT_KEYS
    assert body["user_id"] == "test-user" and body["band"] in {"A", "B"} and body["fallback"] is False
    assert body["model_version"] == trained_model.manifest["version"]
    audit = AIMetric.objects.get(metric_key="credit_prediction")
    assert audit.metric_value == pytest.approx(body["score"])
    assert audit.meta["user_id"] == "test-user" and audit.meta["model_version"] == body["model_version"]
    assert audit.meta["token"] and audit.meta["features"]["punctuality_rate"] == 0.9
    assert audit.user_id is None


def test_predict_links_the_audit_to_a_known_member(api_client):
    member = MemberFactory()
    response = api_client.post("/api/credit/predict", {**SEED_BODY, "user_id": str(member.id)}, format="json")
    assert response.status_code == 200
    assert response.json()["fallback"] is True and response.json()["model_version"] == "rules-v1"
    assert AIMetric.objects.get(metric_key="credit_prediction").user_id == member.id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"punctuality_rate": None}, "punctuality_rate"),
        ({"extra": 1}, "extra"),
        ({"tontine_contributions": "50000"}, "tontine_contributions"),
        ({"mobile_tx_volume": float("nan")}, "mobile_tx_volume"),
        ({"mobile_tx_volume": float("inf")}, "mobile_tx_volume"),
        ({"tontine_contributions": -1}, "tontine_contributions"),
        ({"punctuality_rate": 1.5}, "punctuality_rate"),
        ({"punctuality_rate": -0.1}, "punctuality_rate"),
        ({"contributions_count": 2.5}, "contributions_count"),
        ({"community_endorsements": True}, "community_endorsements"),
        ({"avg_payment_delay_days": -3}, "avg_payment_delay_days"),
    ],
)
def test_bad_input_gets_a_400_naming_the_field_and_writes_nothing(api_client, change, field):
    body = {**SEED_BODY, **change}
    if change.get(field, 0) is None:
        del body[field]
    # json.dumps writes NaN/Infinity, as a careless client would.
    response = api_client.post("/api/credit/predict", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert not AIMetric.objects.exists()


def test_non_json_body_is_a_400(api_client):
    response = api_client.post("/api/credit/predict", "user_id=x", content_type="application/json")
    assert response.status_code == 400 and not AIMetric.objects.exists()


def test_token_is_required(anon_client):
    assert anon_client.post("/api/credit/predict", SEED_BODY, format="json").status_code == 401
    assert anon_client.post("/api/credit/batch-predict", {"items": [SEED_BODY]}, format="json").status_code == 401
    assert anon_client.get("/api/credit/health").status_code == 401


def test_batch_returns_results_in_order_agreeing_with_single(api_client, trained_model):
    items = [
        {**SEED_BODY, "user_id": f"u{i}", "punctuality_rate": i / 10, "avg_payment_delay_days": 10 - i}
        for i in range(11)
    ]
    response = api_client.post("/api/credit/batch-predict", {"items": items}, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["user_id"] for r in results] == [i["user_id"] for i in items]
    for item, result in zip(items, results, strict=True):
        single = api_client.post("/api/credit/predict", item, format="json").json()
        assert {k: single[k] for k in ("score", "confidence", "band", "model_version", "fallback")} == {
            k: result[k] for k in ("score", "confidence", "band", "model_version", "fallback")
        }
        # Declines carry their reasons in batch too.
        if result["score"] < 0.65:
            assert result["reasons"] == single["reasons"]
    assert AIMetric.objects.filter(metric_key="credit_prediction").count() == 22


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [SEED_BODY] * 1001}, "items"),
        ({}, "items"),
        ({"items": [SEED_BODY], "other": 1}, "other"),
        ({"items": [SEED_BODY, {**SEED_BODY, "punctuality_rate": 2}]}, "items"),
    ],
)
def test_bad_batch_gets_a_400_and_writes_nothing(api_client, body, field):
    response = api_client.post("/api/credit/batch-predict", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not AIMetric.objects.exists()


def test_bad_item_error_names_the_item_and_field(api_client):
    body = {"items": [SEED_BODY, {**SEED_BODY, "punctuality_rate": 2}]}
    errors = api_client.post("/api/credit/batch-predict", body, format="json").json()["items"]
    assert list(errors) == ["1"] and "punctuality_rate" in errors["1"]


def test_health_is_ok_with_a_model_and_degraded_without(api_client, trained_model, artifacts_dir):
    body = api_client.get("/api/credit/health").json()
    assert body["status"] == "ok" and body["model_version"] == trained_model.manifest["version"]
    assert body["age_seconds"] is not None and body["fallback"] is False
    (artifacts_dir / "credit" / trained_model.manifest["version"] / "calibration.json").write_text("{}")
    from sunusav.ml.registry import registry

    registry.invalidate()
    body = api_client.get("/api/credit/health").json()
    assert body["status"] == "degraded" and body["model_version"] == "rules-v1" and body["fallback"] is True
    prediction = api_client.post("/api/credit/predict", SEED_BODY, format="json").json()
    assert prediction["fallback"] is True and prediction["model_version"] == "rules-v1"


@pytest.mark.parametrize("user_id", ["+221 77 123 45 67", "00221 77 123 45 67", "77-123-45-67", "+221771234567"])
def test_a_phone_number_as_user_id_is_400_and_stored_nowhere(api_client, user_id):
    response = api_client.post("/api/credit/predict", {**SEED_BODY, "user_id": user_id}, format="json")
    assert response.status_code == 400, response.content
    message = response.json()["user_id"][0]
    assert "phone numbers are not accepted here" in message.lower() and "keyed hash" in message
    assert user_id not in response.content.decode()
    batch = api_client.post(
        "/api/credit/batch-predict", {"items": [SEED_BODY, {**SEED_BODY, "user_id": user_id}]}, format="json"
    )
    assert batch.status_code == 400 and "user_id" in batch.json()["items"]["1"]
    assert not AIMetric.objects.exists()
