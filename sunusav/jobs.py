"""The job ledger: every job a request accepts is recorded with it, and enqueued again if the broker loses it.

Why: the API answers 202 once its transaction commits, and the push to the
broker follows the commit. Redis restarted without persistence, or a process
that dies between the commit and the push, loses accepted jobs (a
cycle-completed event answered 202 for 16 credit checks; 12 never ran).

How:
- `sunusav.queues.enqueue` writes a `JobRecord` (func, args, queue, priority,
  run key, request id) in the caller's transaction, so the record exists
  exactly when the request's writes do; the task package carries its id
  (`job_id`, set by a `pre_enqueue` receiver while the job is pushed).
- The worker marks the record done when the job returns
  (`post_execute_in_worker`: before the broker's acknowledgement, so a
  finished job never looks lost); the monitor marks it done, as failed, once
  django-q2 gives up on it (`post_execute`: attempts spent).
- `jobs_reconcile` (every 5 minutes, sunusav/schedules.py) enqueues again the
  records that are neither done nor held by the broker (queued or in flight:
  every task package the broker keeps is read for its `job_id`) and were
  enqueued more than JOBS_RECONCILE_GRACE_SECONDS ago. The grace covers the
  moment between a commit and its push. After MAX_REENQUEUES a job is
  abandoned (done, failed, logged as an error) instead of looping.
- Jobs are idempotent (DESIGN.md, convention 5), so the rare second run (a
  job still running when Redis was wiped, a worker killed between its commit
  and its done mark) changes nothing.
- `job_records_purge` deletes finished records after JOBS_RETENTION_DAYS.

What is recorded: every job of `enqueue` except `best_effort` nudges (a
schedule does their work anyway). Schedules' own runs are not recorded: the
scheduler creates them again from the database. A job the broker refused at
push time (QueueUnavailable: the API answers 503) stays recorded and runs once
the broker is back; the caller's retry is a new run, and both are harmless.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Task
from django_q.signals import post_execute, post_execute_in_worker, pre_enqueue
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from sunusav.brokers import list_key
from sunusav.logs import request_id_bound
from sunusav.models import JobRecord

logger = logging.getLogger(__name__)

MAX_REENQUEUES = 10
_job_var: ContextVar[str | None] = ContextVar("sunusav_job_id", default=None)


def job_record(
    *, func: str, args: tuple | list, kwargs: dict, queue: str, priority: str, key: str = "", request_id: str | None
) -> str:
    """Record a job in the current transaction; return its id (the `job_id` its task package carries).

    Arguments must be JSON (ids, strings, numbers): a job that takes
    anything else could not be enqueued again.
    """
    record = JobRecord.objects.create(
        func=func,
        args=list(args),
        kwargs=kwargs,
        queue=queue,
        priority=priority,
        key=key[:64],
        request_id=request_id or "",
    )
    return record.pk.hex


@contextlib.contextmanager
def job_bound(job_id: str | None) -> Iterator[None]:
    """Stamp the task packages pushed in this block with `job_id` (None: not recorded)."""
    token = _job_var.set(job_id)
    try:
        yield
    finally:
        _job_var.reset(token)


# --- Signals: carry the id, mark the record done -----------------------------------------------


def _job_enqueuing(sender, task, **kwargs):
    job_id = _job_var.get()
    if job_id:
        task["job_id"] = job_id


def _job_done(job_id: str, *, succeeded: bool) -> None:
    try:
        JobRecord.objects.filter(pk=job_id, done_at__isnull=True).update(done_at=timezone.now(), succeeded=succeeded)
    except DatabaseError:  # the job ran; at worst the reconciliation runs it again (idempotent)
        logger.exception("job.done_not_recorded", extra={"job_id": job_id})


def _job_returned(sender, func, task, **kwargs):
    # In the worker, before the result goes to the monitor and the broker is acknowledged.
    if task.get("job_id") and task.get("success"):
        _job_done(task["job_id"], succeeded=True)


def _job_finished(sender, task, **kwargs):
    # In the monitor, after django-q2 saved the attempt: a failure is final once it is acknowledged.
    job_id = task.get("job_id")
    if not job_id or task.get("success"):
        return
    attempts = Task.objects.filter(id=task.get("id")).values_list("attempt_count", flat=True).first() or 0
    if task.get("ack_failure") or (Conf.MAX_ATTEMPTS > 0 and attempts >= Conf.MAX_ATTEMPTS):
        _job_done(job_id, succeeded=False)


def connect_ledger_signals() -> None:
    """Connect the ledger to django-q2's signals (called from AppConfig.ready)."""
    pre_enqueue.connect(_job_enqueuing, dispatch_uid="sunusav.jobs.enqueuing")
    post_execute_in_worker.connect(_job_returned, dispatch_uid="sunusav.jobs.returned")
    post_execute.connect(_job_finished, dispatch_uid="sunusav.jobs.finished")


# --- Reconciliation ------------------------------------------------------------------------------


def broker_job_ids() -> set[str]:
    """Return the `job_id`s of every task the broker holds, queued or in flight (every queue)."""
    held = set()
    for payload in get_broker().packages():
        try:
            job_id = SignedPackage.loads(payload).get("job_id")
        except Exception:  # not one of ours (another signing key, a foreign payload)
            continue
        if job_id:
            held.add(job_id)
    return held


def _job_push(record: JobRecord) -> None:
    """Hand a recorded job to the broker again, as it was first enqueued (raises if the broker refuses)."""
    with request_id_bound(record.request_id or None), job_bound(record.pk.hex):
        async_task(
            record.func,
            *record.args,
            cluster=list_key(record.queue, record.priority),
            group=record.queue,
            **record.kwargs,
        )


@transaction.atomic
def _job_reenqueue(*, pk, enqueued_at: datetime, now: datetime) -> str:
    rows = JobRecord.objects.filter(pk=pk, done_at__isnull=True, enqueued_at=enqueued_at)
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)  # two reconciliations never push one job twice
    else:
        rows = rows.select_for_update()
    record = rows.first()
    if record is None:
        return "skipped"  # done meanwhile, or another reconciliation has it
    if record.reenqueued >= MAX_REENQUEUES:
        record.done_at, record.succeeded = now, False
        record.save(update_fields=["done_at", "succeeded"])
        logger.error("job.abandoned", extra={"job_id": record.pk.hex, "func": record.func, "queue": record.queue})
        return "abandoned"
    _job_push(record)
    record.enqueued_at, record.reenqueued = now, record.reenqueued + 1
    record.save(update_fields=["enqueued_at", "reenqueued"])
    logger.warning(
        "job.reenqueued",
        extra={"job_id": record.pk.hex, "func": record.func, "queue": record.queue, "times": record.reenqueued},
    )
    return "reenqueued"


def jobs_reconcile(*, grace_seconds: float | None = None, limit: int = 1000, now: datetime | None = None) -> dict:
    """Enqueue again the accepted jobs the broker lost; return what was found and done.

    Lost: not done, not held by the broker (queued or in flight), enqueued
    more than `grace_seconds` (JOBS_RECONCILE_GRACE_SECONDS) ago. With the
    broker unreachable nothing is touched (`broker_unavailable`); a push the
    broker refuses stops the round, and the next one tries again.
    """
    now = now or timezone.now()
    grace = settings.JOBS_RECONCILE_GRACE_SECONDS if grace_seconds is None else grace_seconds
    owed = list(
        JobRecord.objects.filter(done_at__isnull=True, enqueued_at__lte=now - timedelta(seconds=grace))
        .order_by("enqueued_at")
        .values_list("pk", "enqueued_at")[:limit]
    )
    counts = {"owed": len(owed), "held": 0, "reenqueued": 0, "abandoned": 0, "skipped": 0, "broker_unavailable": 0}
    if not owed:
        return counts
    try:
        held = broker_job_ids()
    except Exception as exc:
        logger.warning("jobs.reconcile_skipped", extra={"reason": type(exc).__name__})
        counts["broker_unavailable"] = 1
        return counts
    for pk, enqueued_at in owed:
        if pk.hex in held:
            counts["held"] += 1
            continue
        try:
            counts[_job_reenqueue(pk=pk, enqueued_at=enqueued_at, now=now)] += 1
        except Exception as exc:
            logger.warning("jobs.reconcile_stopped", extra={"job_id": pk.hex, "reason": type(exc).__name__})
            counts["broker_unavailable"] = 1
            break
    logger.info("jobs.reconciled", extra=counts)
    return counts


def job_records_purge(*, older_than_days: int | None = None, now: datetime | None = None, chunk: int = 10_000) -> int:
    """Delete records of jobs finished more than JOBS_RETENTION_DAYS ago; return how many.

    Unfinished records are never purged: they are what the reconciliation
    owes. Deletes in chunks by primary key, like `alerts.services.retention_purge`.
    """
    now = now or timezone.now()
    days = settings.JOBS_RETENTION_DAYS if older_than_days is None else older_than_days
    finished = JobRecord.objects.filter(done_at__isnull=False, done_at__lt=now - timedelta(days=days))
    total = 0
    while ids := list(finished.values_list("pk", flat=True)[:chunk]):
        total += JobRecord.objects.filter(pk__in=ids).delete()[0]
    return total
