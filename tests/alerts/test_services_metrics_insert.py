"""The hot-path ai_metrics writer: ids, values, meta and timestamps round-trip on both databases."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import AIMetric
from alerts.services import metrics_insert, time_ordered_ids
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_audit_ids_are_valid_time_ordered_uuids():
    ids = time_ordered_ids(1000)  # the batch limit; the 12-bit counter orders up to 4096
    parsed = [uuid.UUID(hex=i) for i in ids]
    assert len(set(ids)) == 1000 and all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert ids == sorted(ids)  # one millisecond, the counter orders them


@pytest.mark.parametrize("count", [3, 120])  # below and above the COPY threshold on PostgreSQL
def test_rows_round_trip(count):
    member = MemberFactory()
    now = timezone.now() - timedelta(minutes=5)
    meta = {"text": 'quote " back\\slash tab\t é', "n": 1.5, "none": None, "list": [1, "a"]}
    rows = [(member.pk if i % 2 else None, "k", (0.123 if i % 3 else None), {**meta, "i": i}) for i in range(count)]
    metrics_insert(rows, now=now)
    stored = sorted(AIMetric.objects.filter(metric_key="k"), key=lambda m: m.meta["i"])
    assert len(stored) == count
    for i, row in enumerate(stored):
        assert row.user_id == (member.pk if i % 2 else None)
        assert (None if row.metric_value is None else float(row.metric_value)) == (0.123 if i % 3 else None)
        assert row.meta == {**meta, "i": i}
        assert abs((row.created_at - now).total_seconds()) < 1e-3


def test_nothing_to_write_writes_nothing():
    metrics_insert([])
    assert not AIMetric.objects.exists()


# --- One round trip per real-time decision (issue 17) ----------------------------------------------


def _statements(call) -> list[str]:
    from django.db import connection

    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        call()
    return seen


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/fraud/check",
            {
                "user_id": "rt-user",
                "amount_sats": 12_000,
                "time_since_last_sec": 86_400,
                "invoices_last_min": 0,
                "device_changes": 0,
                "location_changes": 0,
            },
        ),
        (
            "/api/credit/predict",
            {
                "user_id": "rt-user",
                "tontine_contributions": 50_000,
                "punctuality_rate": 0.9,
                "contributions_count": 10,
                "mobile_tx_volume": 100_000,
                "avg_payment_delay_days": 1,
                "community_endorsements": 5,
            },
        ),
    ],
)
def test_a_decision_outside_any_transaction_is_audited_in_one_statement(api_client, path, body):
    """No BEGIN / SET LOCAL / COMMIT around the audit row: one INSERT that commits by itself (asynchronously on PG)."""
    from django.db import connection

    response = None

    def call():
        nonlocal response
        response = api_client.post(path, body, format="json")

    statements = _statements(call)
    assert response.status_code == 200, response.content
    writes = [s for s in statements if not s.lstrip().upper().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].lstrip().upper().startswith("INSERT INTO AI_METRICS")
    if connection.vendor == "postgresql":
        assert "set_config('synchronous_commit', 'off', true)" in writes[0]
    row = AIMetric.objects.get(metric_key="fraud_check" if "fraud" in path else "credit_prediction")
    assert row.meta["user_id"] == "rt-user"


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_the_audit_row_commits_with_it():
    """Inside an outer transaction (a hold) nothing is made asynchronous, and a rollback takes the row too."""
    from django.db import transaction

    from alerts.services import audit_metrics_write

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        audit_metrics_write([(None, "inside", 1.0, {})])
        raise Boom
    assert not AIMetric.objects.filter(metric_key="inside").exists()
    audit_metrics_write([(None, "outside", 1.0, {})])
    assert AIMetric.objects.filter(metric_key="outside").count() == 1
