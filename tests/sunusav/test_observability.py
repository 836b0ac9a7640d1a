"""Observability: /metrics, request ids through logs, rows and jobs, per-stage timings, the log audit."""

import json
import logging
import re

import pytest
from django.conf import settings
from django.db import transaction
from django_q.signals import pre_enqueue, pre_execute
from prometheus_client import REGISTRY

from alerts.models import AIMetric
from sunusav.logs import PHONE_RE, current_request_id, valid_request_id
from tests import log_audit
from tests.factories import MemberFactory, MembershipFactory, TontineFactory

pytestmark = pytest.mark.django_db

FEATURES = {
    "user_id": "obs-user",
    "tontine_contributions": 150000.0,
    "punctuality_rate": 0.9,
    "contributions_count": 12,
    "mobile_tx_volume": 400000.0,
    "avg_payment_delay_days": 1.0,
    "community_endorsements": 3,
}
ORDINARY = {
    "user_id": "obs-user",
    "amount_sats": 12_000,
    "time_since_last_sec": 86_400,
    "invoices_last_min": 0,
    "device_changes": 0,
    "location_changes": 0,
}


def _value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_refuse_without_token(anon_client):
    assert anon_client.get("/metrics").status_code == 401


def test_metrics_allow_a_listed_network_without_token(anon_client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert anon_client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert anon_client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 401


def test_metrics_move_after_a_predict_and_a_check(api_client):
    predicted = sum(_value("sunusav_credit_predictions_total", band=b) for b in "ABCDE")
    checks = _value("sunusav_fraud_decisions_total", decision="allow")
    latency = _value("sunusav_http_request_duration_seconds_count", view="credit:predict", method="POST", status="200")
    assert api_client.post("/api/credit/predict", FEATURES, format="json").status_code == 200
    assert api_client.post("/api/fraud/check", ORDINARY, format="json").status_code == 200

    assert sum(_value("sunusav_credit_predictions_total", band=b) for b in "ABCDE") == predicted + 1
    assert _value("sunusav_fraud_decisions_total", decision="allow") == checks + 1
    assert (
        _value("sunusav_http_request_duration_seconds_count", view="credit:predict", method="POST", status="200")
        == latency + 1
    )
    body = api_client.get("/metrics").content.decode()
    for family in (
        'sunusav_http_request_duration_seconds_bucket{le="0.001",method="POST",status="200",view="fraud:check"}',
        'sunusav_fraud_decisions_total{decision="allow"}',
        'sunusav_queue_depth{queue="fraud",state="waiting"}',
        'sunusav_queue_failed_jobs{queue="credit"}',
        "sunusav_outbox_pending ",
        'sunusav_model_info{model="credit",version=',
        'sunusav_alerts_open{alert_type="fraud_suspect"}',
        "sunusav_state_scrape_ok 1.0",
    ):
        assert family in body, family
    # Fallback answers are counted when the rules answer alone (no fraud model in this test).
    assert 'sunusav_fallback_answers_total{model="fraud"}' in body


def test_request_id_is_echoed_and_stored_with_the_decision(api_client):
    response = api_client.post("/api/credit/predict", FEATURES, format="json", HTTP_X_REQUEST_ID="req-42.a:b")
    assert response["X-Request-ID"] == "req-42.a:b"
    meta = AIMetric.objects.get(metric_key="credit_prediction").meta
    assert meta["request_id"] == "req-42.a:b"
    stages = meta["stages_us"]
    assert {"validation", "features"} <= set(stages) and ({"model", "rules"} & set(stages))
    assert all(isinstance(v, int) and v >= 0 for v in stages.values())

    response = api_client.post("/api/fraud/check", ORDINARY, format="json", HTTP_X_REQUEST_ID="fraud-1")
    meta = AIMetric.objects.get(metric_key="fraud_check").meta
    assert meta["request_id"] == response["X-Request-ID"] == "fraud-1"
    assert {"validation", "features", "model", "rules"} <= set(meta["stages_us"])


@pytest.mark.parametrize("header", ["has space", "x" * 65, "+221771234567", "77 123 45 67", "<script>", "é"])
def test_unsafe_request_ids_are_replaced(api_client, header):
    response = api_client.get("/api/credit/health", HTTP_X_REQUEST_ID=header)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert valid_request_id(header) is None


def test_request_log_line_is_one_json_object_with_the_request_id(api_client, caplog):
    from sunusav.logs import JsonFormatter

    caplog.set_level(logging.INFO, logger="sunusav.request")
    api_client.post("/api/credit/predict", FEATURES, format="json", HTTP_X_REQUEST_ID="line-1")
    (record,) = [r for r in caplog.records if r.name == "sunusav.request"]
    line = JsonFormatter().format(record)
    assert "\n" not in line
    event = json.loads(line)
    assert event["request_id"] == "line-1" and event["view"] == "credit:predict" and event["status"] == 200
    assert event["caller"].startswith("service:") and settings.AI_INTERNAL_TOKENS[0] not in line
    assert {"validation", "features", "writes", "answer"} <= set(event["stages_us"])


def test_jobs_carry_the_request_id_into_the_worker(api_client, django_capture_on_commit_callbacks, caplog):
    """A cycle-completed event enqueues credit checks: each job runs under the event's request id."""
    tontine = TontineFactory()
    MembershipFactory(tontine=tontine, member=MemberFactory())
    enqueued = []

    def capture(sender, task, **kwargs):
        enqueued.append(task)

    pre_enqueue.connect(capture, dispatch_uid="test-capture")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client.post(
                "/api/events/cycle-completed",
                {"tontine_id": str(tontine.pk)},
                format="json",
                HTTP_X_REQUEST_ID="cycle-7",
            )
    finally:
        pre_enqueue.disconnect(dispatch_uid="test-capture")
    assert response.status_code == 202 and response["X-Request-ID"] == "cycle-7"
    (task,) = enqueued
    assert task["request_id"] == "cycle-7"

    # What the worker does with the task package: the pre_execute signal, then the function.
    from django.utils.module_loading import import_string

    caplog.set_level(logging.INFO)
    func = import_string(task["func"])
    pre_execute.send(sender="django_q", func=func, task=task)
    assert current_request_id() == "cycle-7"
    with transaction.atomic():
        func(*task["args"], **task["kwargs"])
    score_meta = AIMetric.objects.get(metric_key="credit_score").meta
    assert score_meta["request_id"] == "cycle-7"
    assert any(r.request_id == "cycle-7" and r.getMessage() == "job.start" for r in caplog.records)
    from sunusav.logs import _task_finished

    _task_finished("django_q", func, task)
    assert current_request_id() is None


def test_phone_pattern_spares_ids_and_catches_numbers():
    for text in ("+221 77 123 45 67", "221771234567", "77 123 45 67", "771234567", "+33612345678"):
        assert PHONE_RE.search(f'"x":"{text}"'), text
    for text in (
        "a4f1c2d0-7712-4345-9677-771234567890",
        "771234567890abcdef",
        '"duration_us":1234',
        "2026-01-01T12:34:56.123456+00:00",
    ):
        assert not PHONE_RE.search(text), text


def test_redact_filter_masks_tokens_and_phones():
    from sunusav.logs import Redact

    record = logging.LogRecord(
        "x", logging.INFO, "", 0, "token %s phone %s", (settings.AI_INTERNAL_TOKENS[0], "+221771234567"), None
    )
    Redact().filter(record)
    assert record.getMessage() == "token [token] phone [phone]"


def test_the_log_audit_finds_tokens_phones_unmasked_secrets_and_non_json_lines():
    """The audit run at the end of every test process (tests/conftest.py `run_log_file`) can fail."""
    token = "a-configured-token-0123456789"
    clean = [
        json.dumps({"message": "request", "path": "/api/x?token=[token]"}),
        json.dumps({"message": "member a4f1c2d0-7712-4345-9677-771234567890"}),
    ]
    assert log_audit.log_problems(clean, {token}) == []
    leaks = [
        json.dumps({"message": f"auth {token}"}),
        json.dumps({"message": "sms to +221 77 123 45 67"}),
        json.dumps({"message": "GET /x?password=hunter22"}),
        "not json at all",
    ]
    assert log_audit.log_problems(clean + leaks, {token}) == leaks


def test_the_run_log_file_receives_this_process_records(run_log_file):
    logging.getLogger("sunusav.test").warning("log-audit-probe")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "log-audit-probe" in run_log_file.read_text(encoding="utf-8").splitlines()[-1]
