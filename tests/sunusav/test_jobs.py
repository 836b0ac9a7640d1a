"""The job ledger: an accepted job is recorded with the request, marked done once it has run,
enqueued again when the broker lost it, and forgotten after its retention (issue 18, finding 1).

A real private Redis and a real cluster: tests/e2e/test_redis_restart.py.
"""

import datetime as dt
import pydoc

import pytest
from django.core import checks
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage
from django_q.tasks import _sync

from credit.services import credit_check_enqueue, tontine_members_rescore
from sunusav import jobs
from sunusav.checks import check_redis_persistence
from sunusav.jobs import MAX_REENQUEUES, job_records_purge, jobs_reconcile
from sunusav.models import JobRecord
from sunusav.queues import enqueue
from sunusav.schedules import SCHEDULES
from tests.factories import MemberFactory, MembershipFactory, TontineFactory
from tests.jobs_support import PrivateRedis

pytestmark = pytest.mark.django_db


def _queued() -> list[dict]:
    """The tasks in the ORM broker, decoded."""
    return [SignedPackage.loads(p) for p in OrmQ.objects.order_by("id").values_list("payload", flat=True)]


def _age(record: JobRecord, minutes: float) -> None:
    JobRecord.objects.filter(pk=record.pk).update(enqueued_at=timezone.now() - dt.timedelta(minutes=minutes))


# --- Recording --------------------------------------------------------------------------------


def test_an_accepted_job_is_recorded_in_the_callers_transaction_and_carries_its_record_id(
    django_capture_on_commit_callbacks,
):
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        run_id = credit_check_enqueue(member_id=member.pk)
        record = JobRecord.objects.get()
        assert not OrmQ.objects.exists()  # the push waits for the commit
    assert (record.func, record.args, record.queue, record.priority, record.key) == (
        "credit.tasks.credit_check",
        [str(member.pk), run_id],
        "credit",
        "normal",
        run_id,
    )
    assert record.done_at is None and record.reenqueued == 0
    assert [task["job_id"] for task in _queued()] == [record.pk.hex]


def test_a_cycle_completed_event_records_every_job_in_one_transaction(django_capture_on_commit_callbacks):
    tontine = TontineFactory()
    for position in range(1, 5):
        MembershipFactory(tontine=tontine, position=position)
    with django_capture_on_commit_callbacks() as callbacks:
        assert tontine_members_rescore(tontine=tontine) == 4
    assert JobRecord.objects.count() == 4 and len(callbacks) == 4 and not OrmQ.objects.exists()


def test_a_rolled_back_request_leaves_neither_a_record_nor_a_job():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("tests.jobs_support.record_run", "never", queue="credit")
        raise RuntimeError("the request failed")
    assert not JobRecord.objects.exists() and not OrmQ.objects.exists()


def test_best_effort_nudges_are_not_recorded(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue("alerts.tasks.notifications_deliver", queue="fraud", best_effort=True)
    assert OrmQ.objects.count() == 1 and "job_id" not in _queued()[0]
    assert not JobRecord.objects.exists()


# --- Marked done by the worker, or failed once django-q2 gives up ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_job_that_runs_is_marked_done_by_its_worker():
    enqueue("tests.jobs_support.record_run", "ran", queue="credit")  # autocommit: pushed at once
    record = JobRecord.objects.get()
    (payload,) = OrmQ.objects.values_list("payload", flat=True)
    _sync(payload)  # django-q2's own worker and monitor, in this process
    record.refresh_from_db()
    assert record.done_at is not None and record.succeeded is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("max_attempts", "done"), [(1, True), (5, False)])
def test_a_failing_job_is_done_only_once_django_q2_gives_up(monkeypatch, max_attempts, done):
    monkeypatch.setattr(Conf, "MAX_ATTEMPTS", max_attempts)
    enqueue("tests.jobs_support.job_fail", "bad", queue="credit")
    (payload,) = OrmQ.objects.values_list("payload", flat=True)
    _sync(payload)
    record = JobRecord.objects.get()
    assert (record.done_at is not None) is done
    assert record.succeeded is (False if done else None)


# --- Reconciliation -------------------------------------------------------------------------------


def test_the_reconciliation_enqueues_again_only_what_the_broker_lost(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for label in ("lost", "queued", "fresh", "done"):
            enqueue("tests.jobs_support.record_run", label, queue="credit", priority="high")
    records = {r.args[0]: r for r in JobRecord.objects.all()}
    for label in ("lost", "queued", "done"):
        _age(records[label], minutes=10)
    JobRecord.objects.filter(pk=records["done"].pk).update(done_at=timezone.now(), succeeded=True)
    # The broker loses everything but "queued" ("fresh" was enqueued a moment ago: its push may be on its way).
    for pk, payload in OrmQ.objects.values_list("pk", "payload"):
        if SignedPackage.loads(payload)["args"] != ("queued",):
            OrmQ.objects.filter(pk=pk).delete()

    counts = jobs_reconcile(grace_seconds=300)

    assert {k: counts[k] for k in ("owed", "held", "reenqueued")} == {"owed": 2, "held": 1, "reenqueued": 1}
    tasks = {task["args"][0]: task for task in _queued()}
    assert set(tasks) == {"queued", "lost"}
    lost = JobRecord.objects.get(pk=records["lost"].pk)
    assert tasks["lost"]["job_id"] == lost.pk.hex and tasks["lost"]["cluster"] == "credit.high"
    assert lost.reenqueued == 1 and lost.done_at is None
    # Pushed again: the next round finds it held. "fresh", once past the grace period, is pushed again too.
    assert jobs_reconcile(grace_seconds=300)["reenqueued"] == 0
    later = jobs_reconcile(grace_seconds=0)
    assert (later["held"], later["reenqueued"]) == (2, 1)
    assert sorted(task["args"][0] for task in _queued()) == ["fresh", "lost", "queued"]


def test_a_job_lost_over_and_over_is_abandoned_not_looped(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue("tests.jobs_support.record_run", "cursed", queue="fraud")
    OrmQ.objects.all().delete()
    JobRecord.objects.update(reenqueued=MAX_REENQUEUES)
    assert jobs_reconcile(grace_seconds=0)["abandoned"] == 1
    record = JobRecord.objects.get()
    assert record.done_at is not None and record.succeeded is False
    assert not OrmQ.objects.exists()


def test_the_reconciliation_touches_nothing_when_the_broker_is_unreachable(monkeypatch):
    with transaction.atomic():
        enqueue("tests.jobs_support.record_run", "waiting", queue="credit")
    monkeypatch.setattr(Conf, "BROKER_CLASS", "sunusav.brokers.ReliableRedis")
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0")  # nothing listens there
    counts = jobs_reconcile(grace_seconds=0)
    assert (counts["owed"], counts["broker_unavailable"], counts["reenqueued"]) == (1, 1, 0)
    assert JobRecord.objects.get().reenqueued == 0


def test_the_reconciliation_runs_every_few_minutes():
    (spec,) = [s for s in SCHEDULES if s["func"] == "sunusav.tasks.jobs_reconcile"]
    assert spec["schedule_type"] == "I" and spec["minutes"] <= 5
    assert pydoc.locate(spec["func"])() == jobs_reconcile()


# --- Retention --------------------------------------------------------------------------------------


def test_finished_records_are_purged_after_their_retention_and_unfinished_ones_never(settings):
    settings.JOBS_RETENTION_DAYS = 7
    with transaction.atomic():
        for label in ("old-done", "recent-done", "old-owed"):
            enqueue("tests.jobs_support.record_run", label, queue="credit")
    records = {r.args[0]: r for r in JobRecord.objects.all()}
    long_ago = timezone.now() - dt.timedelta(days=8)
    JobRecord.objects.filter(pk=records["old-done"].pk).update(done_at=long_ago, created_at=long_ago)
    JobRecord.objects.filter(pk=records["recent-done"].pk).update(done_at=timezone.now())
    JobRecord.objects.filter(pk=records["old-owed"].pk).update(created_at=long_ago, enqueued_at=long_ago)
    assert job_records_purge() == 1
    assert sorted(JobRecord.objects.values_list("args", flat=True)) == [["old-owed"], ["recent-done"]]
    (spec,) = [s for s in SCHEDULES if s["func"] == "sunusav.tasks.job_records_purge"]
    assert spec["schedule_type"] == "D"


# --- Redis's persistence, checked at start ----------------------------------------------------------


def test_redis_without_its_append_only_file_is_a_warning_at_start(settings, tmp_path):
    server = PrivateRedis(tmp_path).start()
    try:
        settings.REDIS_URL = server.url
        [warning] = check_redis_persistence(None)
        assert warning.level == checks.WARNING and warning.id == "sunusav.W020"
        assert "appendonly no" in warning.msg
        import redis

        client = redis.from_url(server.url)
        client.config_set("appendonly", "yes")
        assert check_redis_persistence(None) == []
        client.config_set("appendonly", "no")  # Redis will not stop while it writes its first AOF
    finally:
        server.stop()


def test_the_persistence_check_tolerates_redis_down_and_ignores_no_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = timezone.now()
    [note] = check_redis_persistence(None)
    assert note.level == checks.INFO and note.id == "sunusav.I022"
    assert timezone.now() - started < dt.timedelta(seconds=5)
    settings.REDIS_URL = ""
    assert check_redis_persistence(None) == []


def test_the_check_is_registered():
    assert check_redis_persistence in checks.registry.registry.get_checks()
    assert jobs.connect_ledger_signals  # connected in SunusavConfig.ready
