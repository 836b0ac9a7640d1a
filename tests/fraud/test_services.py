"""Decisions, holds, alerts and audit rows: once per payment, whatever the retries."""

import json

import pytest

from alerts.models import AIAlert, AIMetric
from fraud.detectors import ARRAYS_FILE
from fraud.services import fraud_checks_run, payment_check, payment_check_stored, transaction_check
from sunusav.ml.lifecycle import model_version_register
from sunusav.ml.registry import artifact_path, registry
from sunusav.models import Payment
from tests.factories import PaymentFactory
from tests.fraud.conftest import ORDINARY, SEED_EXAMPLE

pytestmark = pytest.mark.django_db

FEATURES_ONLY = {k: v for k, v in SEED_EXAMPLE.items() if k != "user_id"}


def test_seed_example_is_held_and_ordinary_allowed(fraud_model):
    held = transaction_check(features=FEATURES_ONLY)
    assert (held.decision, held.is_fraud, held.fallback) == ("hold", True, False)
    assert held.model_version == fraud_model.version
    assert 0.8 <= held.fraud_score <= 1
    assert {"invoice_burst", "anomaly"} <= {r["id"] for r in held.reasons}
    allowed = transaction_check(features={k: v for k, v in ORDINARY.items() if k != "user_id"})
    assert (allowed.decision, allowed.is_fraud) == ("allow", False)
    assert allowed.fraud_score < 0.5


def test_hold_is_applied_once_with_one_alert(fraud_model):
    payment = PaymentFactory(status=Payment.Status.PENDING)
    item = {**FEATURES_ONLY, "user_id": str(payment.member_id)}
    first = payment_check(payment=payment, features=item, token="abc")
    second = payment_check(payment=payment, features=item, token="abc")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.HELD
    assert (first.result.decision, second.result.decision) == ("hold", "hold")
    assert (first.replay, second.replay) == (False, True)
    assert second.result.fraud_score == first.result.fraud_score
    alert = AIAlert.objects.get(user=payment.member)
    assert alert.alert_type == "fraud_suspect"
    assert alert.payload["payment_id"] == str(payment.pk)
    assert alert.payload["model_version"] == fraud_model.version
    assert alert.payload["features"]["amount_sats"] == 1_000_000
    assert {r["id"] for r in alert.payload["reasons"]} >= {"invoice_burst"}
    metrics = AIMetric.objects.filter(metric_key="fraud_check", user=payment.member)
    assert metrics.count() == 2
    assert sorted(m.meta["replay"] for m in metrics) == [False, True]
    assert all(m.meta["token"] == "abc" and m.meta["latency_ms"] >= 0 for m in metrics)


def test_released_payment_is_not_held_again(fraud_model):
    payment = PaymentFactory(status=Payment.Status.PENDING)
    item = {**FEATURES_ONLY, "user_id": str(payment.member_id)}
    payment_check(payment=payment, features=item)
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.RELEASED)  # analyst released it
    again = payment_check(payment=payment, features=item)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.RELEASED
    assert again.replay and AIAlert.objects.count() == 1


def test_allowed_payment_stays_pending_without_alert(fraud_model):
    payment = PaymentFactory(status=Payment.Status.PENDING)
    checked = payment_check(payment=payment, features={**ORDINARY, "user_id": str(payment.member_id)})
    payment.refresh_from_db()
    assert checked.result.decision == "allow"
    assert payment.status == Payment.Status.PENDING
    assert not AIAlert.objects.exists()


def test_stored_payment_is_checked_from_its_history(fraud_model):
    burst = [PaymentFactory(kind="invoice", amount_sats=2_000) for _ in range(1)]
    member = burst[0].member
    burst += [PaymentFactory(member=member, kind="invoice", amount_sats=2_000) for _ in range(9)]
    checked = payment_check_stored(payment=burst[-1])
    assert checked.result.decision == "hold"
    assert AIMetric.objects.get().meta["features"]["invoices_last_min"] == 10


def test_without_model_rules_decide_alone(db):
    result = transaction_check(features=FEATURES_ONLY)
    assert (result.decision, result.fallback, result.model_version) == ("hold", True, "rules-v1")
    assert "anomaly" not in {r["id"] for r in result.reasons}
    assert registry.status("fraud")["status"] == "degraded"


def test_corrupt_artifact_falls_back_and_health_is_degraded(fraud_model, settings, tmp_path):
    import shutil

    from fraud.selectors import fraud_health

    copy = tmp_path / "fraud" / fraud_model.version
    shutil.copytree(artifact_path("fraud", fraud_model.version), copy)
    settings.ML_ARTIFACTS_DIR = tmp_path
    (copy / ARRAYS_FILE).write_bytes(b"not the forest")
    registry.invalidate()
    result = transaction_check(features=FEATURES_ONLY)
    assert result.fallback and result.model_version == "rules-v1" and result.decision == "hold"
    health = fraud_health()
    assert health["status"] == "degraded" and "sha256" in health["error"]


def test_scoring_failure_applies_the_default_action_and_records_it(fraud_model, settings, tmp_path):
    import shutil

    settings.FRAUD_DEFAULT_ACTION = "hold"
    copy = tmp_path / "fraud" / "broken"
    shutil.copytree(artifact_path("fraud", fraud_model.version), copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update(version="broken", calibration={"a": "corrupt", "b": 0.0})  # loads, cannot score
    (copy / "manifest.json").write_text(json.dumps(manifest))
    settings.ML_ARTIFACTS_DIR = tmp_path
    model_version_register(manifest=manifest, activate=True)
    registry.invalidate()
    payment = PaymentFactory(status=Payment.Status.PENDING)

    (checked,) = fraud_checks_run(items=[{**ORDINARY, "user_id": str(payment.member_id), "payment_id": payment.pk}])

    assert checked.result.fraud_score is None
    assert (checked.result.decision, checked.result.fallback) == ("hold", True)
    assert [r["id"] for r in checked.result.reasons] == ["scoring_failed"]
    payment.refresh_from_db()
    assert payment.status == Payment.Status.HELD
    metric = AIMetric.objects.get()
    assert metric.metric_value is None
    assert metric.meta["default_action_applied"] is True and "TypeError" in metric.meta["error"]
    # The failed model is dropped: the next check is decided by the rules alone.
    after = transaction_check(features={k: v for k, v in ORDINARY.items() if k != "user_id"})
    assert (after.fallback, after.fraud_score is not None, after.decision) == (True, True, "allow")


@pytest.mark.parametrize("with_model", [True, False])
def test_batch_audit_rows_hold_each_decision_meta(with_model, request, settings, tmp_path):
    from fraud.services import _metric_meta, fraud_checks_run, transactions_check

    if with_model:
        request.getfixturevalue("fraud_model")
    else:
        settings.ML_ARTIFACTS_DIR = tmp_path  # no model: rules alone
    items = [
        {**SEED_EXAMPLE, "user_id": 'quote " and é \\ tab\t'},
        {**ORDINARY, "user_id": "u-2", "time_since_last_sec": 0.1},
        {**ORDINARY, "user_id": "u-3", "amount_sats": 99_000, "time_since_last_sec": 1e300},
    ]
    fraud_checks_run(items=items, token="tok")
    stored = {m.meta["user_id"]: m for m in AIMetric.objects.filter(metric_key="fraud_check")}
    assert len(stored) == 3
    for result, item in zip(transactions_check(items=items), items, strict=True):
        expected = _metric_meta(
            result=result, features=item, payment=None, user_ref=item["user_id"], token="tok", replay=False
        )
        meta = stored[item["user_id"]].meta
        expected.pop("latency_ms")
        # jsonb keeps numbers as NUMERIC: 1e300 comes back from PostgreSQL as an int.
        features = {k: float(v) for k, v in expected.pop("features").items()}
        assert {k: float(v) for k, v in meta["features"].items()} == features
        assert {k: v for k, v in meta.items() if k in expected} == expected
        assert "request_id" in meta and float(stored[item["user_id"]].metric_value) == pytest.approx(
            result.fraud_score, abs=1e-4
        )
