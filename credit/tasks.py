"""django-q2 jobs of the `credit` queue and the seed's enqueue functions.

Jobs are thin and idempotent: ids in, one service call. Enqueueing waits for
the surrounding transaction to commit (`sunusav.queues.enqueue`).
"""

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings

from credit import services
from sunusav.queues import NORMAL, enqueue

BATCH_CHUNK = 25


def credit_score_members(member_ids: list[str], cutoff: str, run_id: str = "") -> int:
    """Score these members unless they were scored since `cutoff` (safe to run twice)."""
    return services.members_score(
        member_ids=[uuid.UUID(m) for m in member_ids], cutoff=datetime.fromisoformat(cutoff), run_id=run_id
    )


def score_stale_members() -> int:
    """Enqueue the nightly scoring of members whose score is older than CREDIT_STALE_DAYS."""
    return services.stale_members_enqueue(stale_days=settings.CREDIT_STALE_DAYS, chunk=settings.CREDIT_SCORE_CHUNK)


def credit_check(member_id: str, run_id: str) -> str:
    """Score one member, save the score, and offer a microloan for a high score."""
    return services.member_credit_check(member_id=uuid.UUID(member_id), run_id=run_id)


def credit_check_batch(member_ids: list[str], run_id: str) -> dict[str, int]:
    """Check several members (one predict, a transaction each: a retry skips those already done)."""
    outcomes = services.members_credit_check(member_ids=[uuid.UUID(m) for m in member_ids], run_id=run_id)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def enqueue_credit_check(member_id, priority: str = NORMAL, *, run_id: str | None = None) -> str:
    """Enqueue a credit check of one member (the seed's `enqueueCreditCheck`); return its run id."""
    run_id = run_id or uuid.uuid4().hex
    enqueue("credit.tasks.credit_check", str(member_id), run_id, queue="credit", priority=priority)
    return run_id


def enqueue_batch_credit_check(member_ids: Iterable, priority: str = NORMAL, *, chunk: int = BATCH_CHUNK) -> str:
    """Enqueue credit checks of many members under one run id (the seed's `enqueueBatchCreditCheck`).

    Members go in jobs of `chunk`: a job per member would spend more time in
    the queue's bookkeeping than in scoring. Returns the run id.
    """
    run_id = uuid.uuid4().hex
    ids = [str(m) for m in member_ids]
    for start in range(0, len(ids), chunk):
        enqueue(
            "credit.tasks.credit_check_batch", ids[start : start + chunk], run_id, queue="credit", priority=priority
        )
    return run_id


# --- Model governance and the endorsement graph (issue 9) ---------------------------------------


def compute_drift() -> dict[str, str]:
    """Store today's PSI of every served model's features and score (once per model version and day)."""
    from sunusav.drift import drift_compute

    return drift_compute()


def flag_endorsement_rings() -> int:
    """Open a review alert for each endorsement ring not flagged before; return how many."""
    from credit.endorsements import endorsement_rings_flag

    return endorsement_rings_flag()


def propagate_endorsement_defaults() -> int:
    """Enqueue credit checks of recent defaulters' endorsers and endorsees; return how many members."""
    from credit.endorsements import endorsement_defaults_propagate

    return endorsement_defaults_propagate()
