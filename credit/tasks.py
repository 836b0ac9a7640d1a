"""django-q2 jobs of the `credit` queue and the seed's enqueue functions.

Jobs are thin and idempotent: ids in, one service call. Enqueueing waits for
the surrounding transaction to commit (`sunusav.queues.enqueue`).
"""

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings

from credit import endorsements, liquidity, services
from credit.services import BATCH_CHUNK
from sunusav.queues import NORMAL


def credit_score_members(member_ids: list[str], cutoff: str, run_id: str = "") -> int:
    """Score these members unless they were scored since `cutoff` (safe to run twice)."""
    return services.members_score(
        member_ids=[uuid.UUID(m) for m in member_ids], cutoff=datetime.fromisoformat(cutoff), run_id=run_id
    )


def stale_members_score() -> int:
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
    return services.credit_check_enqueue(member_id=member_id, priority=priority, run_id=run_id)


def enqueue_batch_credit_check(member_ids: Iterable, priority: str = NORMAL, *, chunk: int = BATCH_CHUNK) -> str:
    """Enqueue credit checks of many members under one run id (the seed's `enqueueBatchCreditCheck`)."""
    return services.credit_checks_enqueue(member_ids=member_ids, priority=priority, chunk=chunk)


def liquidity_check() -> int:
    """Raise liquidity alerts for payouts coming up short; return how many (hourly)."""
    return len(liquidity.liquidity_check())


def endorsement_rings_flag() -> int:
    """Open a review alert for each endorsement ring not flagged before; return how many (daily)."""
    return endorsements.endorsement_rings_flag()


def endorsement_defaults_propagate() -> int:
    """Enqueue credit checks of recent defaulters' endorsers and endorsees; return how many members (daily)."""
    return endorsements.endorsement_defaults_propagate()
