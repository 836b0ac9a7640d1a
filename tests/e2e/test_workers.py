"""Real django-q2 clusters scoring real members: a SIGKILL mid-batch loses and doubles nothing.

Runs on the test database of the suite (SQLite file or PostgreSQL) with the
ORM broker, then with the Redis broker at TEST_REDIS_URL.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count
from django_q.conf import Conf

from alerts.models import AIAlert, AIMetric, Notification
from backoffice.demo.generator import world_build
from credit.tasks import credit_check, enqueue_batch_credit_check
from sunusav.models import Loan, Member
from sunusav.queues import get_queue_stats
from tests.jobs_support import LiveCluster, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BATCH = 2000
# Short timeouts so the jobs a SIGKILL interrupts come back within seconds.
CLUSTER_ENV = {"Q_WORKERS": "2", "Q_CREDIT_TIMEOUT": "8", "Q_FRAUD_TIMEOUT": "8", "Q_RETRY": "10"}


def _world():
    world_build(members=BATCH, seed=11, anchor=datetime(2026, 11, 1, tzinfo=ZoneInfo("Africa/Dakar")))


def _scored(run_id):
    return AIMetric.objects.filter(metric_key="credit_score", meta__run_id=run_id).count()


def _kill_mid_batch_and_recover(env):
    _world()
    run_id = enqueue_batch_credit_check(Member.objects.values_list("pk", flat=True), "normal")
    cluster = LiveCluster(env=env).start()
    try:
        wait_for(lambda: _scored(run_id) >= BATCH * 0.3, timeout=180, message="30% of the batch")
        cluster.kill()
        killed_at = _scored(run_id)
        assert killed_at < BATCH, "the batch finished before the kill; the test proves nothing"
        cluster = LiveCluster(env=env).start()
        wait_for(lambda: _scored(run_id) >= BATCH, timeout=300, message="the whole batch")
        wait_for(
            lambda: get_queue_stats()["credit"]["waiting"] == 0 and get_queue_stats()["credit"]["active"] == 0,
            timeout=60,
            message="an empty queue",
        )
    finally:
        cluster.stop()

    per_member = (
        AIMetric.objects.filter(metric_key="credit_score", meta__run_id=run_id)
        .values("user_id")
        .annotate(n=Count("id"))
    )
    assert per_member.count() == BATCH
    assert {row["n"] for row in per_member} == {1}, "a member was scored twice in one run"
    assert Member.objects.filter(credit_score__isnull=True).count() == 0
    offers = AIAlert.objects.filter(alert_type="credit_offer")
    assert offers.exists(), "a real world has members good enough for an offer"
    assert offers.values("user_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    assert Loan.objects.filter(
        status="offered", offered_at__gt=datetime(2026, 11, 2, tzinfo=ZoneInfo("UTC"))
    ).count() == (offers.count())
    assert Notification.objects.filter(kind="loan_offer").count() == offers.count()
    assert killed_at > 0


@pytest.mark.ci_long
def test_orm_broker_survives_sigkill_mid_batch():
    _kill_mid_batch_and_recover(CLUSTER_ENV)


@pytest.mark.ci_long
def test_redis_broker_survives_sigkill_mid_batch(monkeypatch, redis_url):
    monkeypatch.setattr(Conf, "BROKER_CLASS", "sunusav.brokers.ReliableRedis")
    monkeypatch.setattr(Conf, "REDIS", redis_url)
    monkeypatch.setattr(Conf, "ORM", None)
    _kill_mid_batch_and_recover({**CLUSTER_ENV, "REDIS_URL": redis_url})


def test_a_job_run_twice_changes_nothing_the_second_time():
    _world()
    member = Member.objects.order_by("-pk").first()
    assert credit_check(str(member.pk), "run-1") == "scored"
    state = (
        AIMetric.objects.count(),
        AIAlert.objects.count(),
        Notification.objects.count(),
        Loan.objects.count(),
    )
    assert credit_check(str(member.pk), "run-1") == "already-done"
    assert (AIMetric.objects.count(), AIAlert.objects.count(), Notification.objects.count(), Loan.objects.count()) == (
        state
    )
