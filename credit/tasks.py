"""django-q2 tasks of the `credit` queue: thin, idempotent, ids in, one service call."""

import uuid
from datetime import datetime

from credit import services


def credit_score_members(member_ids: list[str], cutoff: str, run_id: str = "") -> int:
    """Score these members unless they were scored since `cutoff` (safe to run twice)."""
    return services.members_score(
        member_ids=[uuid.UUID(m) for m in member_ids], cutoff=datetime.fromisoformat(cutoff), run_id=run_id
    )
