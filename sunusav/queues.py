"""Enqueueing jobs on the `credit` and `fraud` queues, and their statistics.

Every job is enqueued after the surrounding transaction commits, so a worker
never looks for rows that a rolled-back request never wrote; the job's queue
name is its django-q2 `group`, which is how statistics count completed and
failed jobs per queue whichever cluster ran them.

Every job but a `best_effort` nudge is also recorded in the database, in the
caller's transaction (`sunusav.jobs`, the job ledger): a job the broker loses
after the request was answered is enqueued again by the reconciliation.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django_q.brokers import get_broker
from django_q.models import Failure, Success
from django_q.tasks import async_task

from sunusav.brokers import HIGH, NORMAL, list_key, served_keys
from sunusav.jobs import job_bound, job_record
from sunusav.logs import current_request_id, request_id_bound

QUEUES = ("credit", "fraud")

logger = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The broker refused a job (Redis down...): the caller must hear of it, not lose it."""


def enqueue(
    func: str, *args, queue: str, priority: str = NORMAL, best_effort: bool = False, job_key: str = "", **kwargs
) -> None:
    """Enqueue `func(*args, **kwargs)` on a queue once the current transaction commits.

    The job carries the enqueuing request's id (`sunusav.logs`), taken now: the
    commit may run after the request's context has ended. If the broker is
    unreachable, `QueueUnavailable` is raised (the API answers 503 and the
    caller retries: every write before it is idempotent); `best_effort` jobs
    (nudges whose work a schedule also picks up) only log the failure.
    Other jobs are recorded in the job ledger now, in the caller's
    transaction (`job_key`: the run they belong to), so a job the broker
    refuses or later loses still runs (`sunusav.jobs.jobs_reconcile`).
    """
    if queue not in QUEUES:
        raise ValueError(f"queue must be one of {QUEUES}, not {queue!r}")
    key = list_key(queue, priority)  # validates the priority now, not after commit
    request_id = current_request_id()
    job_id = None
    if not best_effort:
        job_id = job_record(
            func=func, args=args, kwargs=kwargs, queue=queue, priority=priority, key=job_key, request_id=request_id
        )

    def push():
        with request_id_bound(request_id), job_bound(job_id):
            try:
                async_task(func, *args, cluster=key, group=queue, **kwargs)
            except Exception as exc:
                if best_effort:
                    logger.warning("could not enqueue %s on %s: %s", func, queue, type(exc).__name__)
                    return
                raise QueueUnavailable(f"the {queue} queue is unavailable ({type(exc).__name__})") from exc

    transaction.on_commit(push)


def get_queue_stats() -> dict[str, dict[str, int]]:
    """Return the seed's shape: `{queue: {waiting, active, completed, failed}}`."""
    stats = {}
    for queue in QUEUES:
        broker = get_broker(queue)
        stats[queue] = {
            "waiting": broker.queue_size(),
            "active": broker.lock_size() or 0,
            "completed": Success.objects.filter(group=queue).count(),
            "failed": Failure.objects.filter(group=queue).count(),
        }
    return stats


__all__ = ["HIGH", "NORMAL", "QUEUES", "enqueue", "get_queue_stats", "served_keys"]
