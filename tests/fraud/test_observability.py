"""One payment followed by its request id: API call, decision row, alert, analyst action."""

import logging

import pytest
from prometheus_client import REGISTRY

from alerts.models import AIAlert, AIMetric
from alerts.services import AlertAlreadyResolved, alert_resolve
from sunusav.logs import request_id_bound
from sunusav.models import Payment
from tests.factories import PaymentFactory
from tests.fraud.conftest import SEED_EXAMPLE

pytestmark = pytest.mark.django_db


def test_payment_followed_from_api_call_to_analyst(api_client, fraud_model, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO)
    payment = PaymentFactory(status=Payment.Status.PENDING)
    body = {**SEED_EXAMPLE, "user_id": str(payment.member_id), "payment_id": str(payment.pk)}
    opened = REGISTRY.get_sample_value("sunusav_alerts_opened_total", {"alert_type": "fraud_suspect"}) or 0
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/fraud/check", body, format="json", HTTP_X_REQUEST_ID="pay-1")
    assert response.json()["decision"] == "hold"

    row = AIMetric.objects.get(metric_key="fraud_check")
    alert = AIAlert.objects.get()
    assert row.meta["request_id"] == alert.payload["request_id"] == "pay-1"
    assert {"validation", "features", "model", "rules", "writes"} <= set(row.meta["stages_us"])
    assert REGISTRY.get_sample_value("sunusav_alerts_opened_total", {"alert_type": "fraud_suspect"}) == opened + 1
    request_line = next(r for r in caplog.records if r.name == "sunusav.request")
    opened_line = next(r for r in caplog.records if r.getMessage() == "alert.opened")
    assert request_line.request_id == opened_line.request_id == "pay-1"
    assert opened_line.alert_id == str(alert.pk)

    with request_id_bound("analyst-9"):
        alert_resolve(alert=alert, actor=None, outcome="confirmed_fraud", note="vérifié")
    resolved_line = next(r for r in caplog.records if r.getMessage() == "alert.resolved")
    assert resolved_line.origin_request_id == "pay-1" and resolved_line.request_id == "analyst-9"
    audit = AIMetric.objects.get(metric_key="alert_resolved")
    assert audit.meta["origin_request_id"] == "pay-1" and audit.meta["request_id"] == "analyst-9"
    alert.refresh_from_db()
    assert alert.resolved
    with pytest.raises(AlertAlreadyResolved):  # twice: refused, no change
        alert_resolve(alert=alert, actor=None, outcome="false_positive", note="encore")
    assert AIAlert.objects.get().payload["outcome"] == "confirmed_fraud"
