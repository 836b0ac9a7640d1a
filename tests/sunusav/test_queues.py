"""Queues on real django-q2 clusters: priorities, and statistics in the seed's shape."""

import pytest
from django.db import transaction
from django_q.models import OrmQ

from alerts.models import AIMetric
from sunusav.queues import enqueue, get_queue_stats
from tests.jobs_support import LiveCluster, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _labels_in_run_order():
    rows = AIMetric.objects.filter(metric_key="test_job").order_by("metric_value")
    return [r.meta["label"] for r in rows]


def test_enqueue_waits_for_commit():
    with transaction.atomic():
        enqueue("tests.jobs_support.record_run", "x", queue="credit")
        assert OrmQ.objects.count() == 0
    assert OrmQ.objects.count() == 1


def test_rolled_back_work_is_never_enqueued():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("tests.jobs_support.record_run", "x", queue="credit")
        raise RuntimeError
    assert OrmQ.objects.count() == 0


def test_bad_queue_or_priority_is_refused():
    with pytest.raises(ValueError):
        enqueue("tests.jobs_support.record_run", queue="nope")
    with pytest.raises(ValueError):
        enqueue("tests.jobs_support.record_run", queue="credit", priority="urgent")


@pytest.mark.slow
def test_high_priority_overtakes_waiting_normal_work():
    cluster = LiveCluster(env={"Q_WORKERS": "1"}).start()
    try:
        enqueue("tests.jobs_support.record_run", "blocker", 3.0, queue="credit")
        wait_for(lambda: get_queue_stats()["credit"]["active"] >= 1, timeout=30, message="the blocker to start")
        for i in range(6):
            enqueue("tests.jobs_support.record_run", f"normal-{i}", queue="credit")
        enqueue("tests.jobs_support.record_run", "high", queue="credit", priority="high")
        wait_for(lambda: AIMetric.objects.filter(metric_key="test_job").count() == 8, timeout=60, message="8 jobs")
    finally:
        cluster.stop()
    order = _labels_in_run_order()
    assert order[0] == "blocker"
    # One worker holds the blocker; the pusher has prefetched at most two
    # normal jobs (queue_limit 1 + the one in hand). The high job comes next.
    assert order.index("high") <= 3, order
    assert order.index("high") < order.index("normal-5")
    stats = get_queue_stats()
    assert set(stats) == {"credit", "fraud"}
    assert set(stats["credit"]) == {"waiting", "active", "completed", "failed"}
    assert stats["credit"]["completed"] == 8 and stats["credit"]["waiting"] == 0
