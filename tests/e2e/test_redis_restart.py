"""Redis restarted without persistence loses accepted jobs; the job ledger runs them, each once (issue 18).

The incident: a cycle-completed event answered 202 and queued 16 credit checks;
Redis restarted without persistence and 12 were never run. Here, on a Redis
server of the test's own (no RDB, no AOF): 4 jobs run, Redis restarts empty,
the reconciliation enqueues the other 12 again, and a real django-q2 cluster
runs them. Every member is scored exactly once, by exactly one run of its job.
"""

import pytest
from django.db.models import Count
from django_q.conf import Conf
from django_q.models import Success
from django_q.tasks import _sync

from alerts.models import AIMetric
from sunusav.brokers import ReliableRedis
from sunusav.jobs import broker_job_ids, jobs_reconcile
from sunusav.models import JobRecord
from tests.factories import MembershipFactory, TontineFactory
from tests.jobs_support import LiveCluster, PrivateRedis, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MEMBERS = 16
RAN_BEFORE_THE_RESTART = 4


@pytest.fixture
def private_redis(monkeypatch, tmp_path):
    """A redis-server on a free port, as the broker of this process (the shared servers are never touched)."""
    server = PrivateRedis(tmp_path).start()
    monkeypatch.setattr(Conf, "BROKER_CLASS", "sunusav.brokers.ReliableRedis")
    monkeypatch.setattr(Conf, "REDIS", server.url)
    monkeypatch.setattr(Conf, "ORM", None)
    yield server
    server.stop()


@pytest.mark.ci_long
def test_jobs_lost_with_a_redis_restart_are_run_once_after_the_reconciliation(api_client, private_redis):
    tontine = TontineFactory()
    members = {MembershipFactory(tontine=tontine, position=i + 1).member.pk for i in range(MEMBERS)}
    response = api_client.post("/api/events/cycle-completed", {"tontine_id": str(tontine.pk)}, format="json")
    assert response.status_code == 202 and response.json()["enqueued"] == MEMBERS
    assert JobRecord.objects.filter(done_at__isnull=True).count() == MEMBERS
    assert broker_job_ids() == {pk.hex for pk in JobRecord.objects.values_list("pk", flat=True)}

    # A few jobs run (django-q2's own worker and monitor, in this process), then Redis restarts empty.
    broker = ReliableRedis("credit")
    for _ in range(RAN_BEFORE_THE_RESTART):
        [(task_id, payload)] = broker.dequeue()
        _sync(payload)
        broker.acknowledge(task_id)
    assert JobRecord.objects.filter(done_at__isnull=False).count() == RAN_BEFORE_THE_RESTART
    private_redis.restart()
    assert broker_job_ids() == set()

    counts = jobs_reconcile(grace_seconds=0)
    lost = MEMBERS - RAN_BEFORE_THE_RESTART
    assert (counts["owed"], counts["held"], counts["reenqueued"]) == (lost, 0, lost)
    again = jobs_reconcile(grace_seconds=0)  # now Redis holds them: nothing is pushed twice
    assert (again["held"], again["reenqueued"]) == (lost, 0)

    cluster = LiveCluster(env={"REDIS_URL": private_redis.url, "Q_WORKERS": "2"}).start()
    try:
        wait_for(
            lambda: not JobRecord.objects.filter(done_at__isnull=True).exists(), timeout=180, message="every job done"
        )
    finally:
        cluster.stop()

    scores = (
        AIMetric.objects.filter(metric_key="credit_score", meta__source="credit_check")
        .values("user_id")
        .annotate(n=Count("id"))
    )
    assert {row["user_id"] for row in scores} == members
    assert {row["n"] for row in scores} == {1}, "a member was scored twice"
    assert Success.objects.filter(func="credit.tasks.credit_check").count() == MEMBERS, "a job ran twice"
    assert set(JobRecord.objects.values_list("succeeded", flat=True)) == {True}
    assert set(JobRecord.objects.values_list("reenqueued", flat=True)) == {0, 1}
    assert jobs_reconcile(grace_seconds=0)["owed"] == 0
