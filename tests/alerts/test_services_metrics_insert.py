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
