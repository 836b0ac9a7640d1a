"""The demo world: a realistic, reproducible SunuSàv for demos, model training and benchmarks.

`world_seed` is the service behind `manage.py seed_demo`. The world's modules:
`names` (vocabulary), `world` (members, tontines, contributions, mobile money,
endorsements, loans), `payments` (traffic and injected fraud), `storage` (fast
bulk inserts and the flush) and `summary` (what a world looks like).
"""

from __future__ import annotations

import time
from datetime import datetime

from django.db import connection, transaction

from sunusav.demo.storage import Progress, SqliteBuildCache, sequences_reset, world_flush, world_models
from sunusav.demo.summary import WorldSummary, world_summary
from sunusav.models import Member

DEFAULT_PAYMENTS_PER_MEMBER = 26.0
DEFAULT_PAYMENT_WINDOW_DAYS = 120
DEFAULT_FRAUD_INCIDENT_RATE = 0.06  # incidents per member: ~2% of payments


class WorldExists(Exception):
    """The database already has members; the caller must ask for a flush."""

    def __init__(self, members: int):
        self.members = members
        super().__init__(f"The database already has {members:,} members.")


def world_member_count() -> int:
    """Return how many members the database holds."""
    return Member.objects.count()


def world_seed(
    *,
    members: int,
    seed: int,
    anchor: datetime,
    flush: bool = False,
    payments_per_member: float = DEFAULT_PAYMENTS_PER_MEMBER,
    payment_window_days: int = DEFAULT_PAYMENT_WINDOW_DAYS,
    fraud_incident_rate: float = DEFAULT_FRAUD_INCIDENT_RATE,
    progress: Progress | None = None,
) -> WorldSummary:
    """Build a world of `members` members whose history ends at `anchor`, in one transaction.

    Raise WorldExists when members exist and `flush` is false; with `flush`,
    delete the old world first (in the same transaction, so a failed build
    leaves the old world in place). The same seed and anchor give the same
    world, ids included.
    """
    from sunusav.demo.payments import payments_build
    from sunusav.demo.world import credit_history_build, to_micros

    if members < 1:
        raise ValueError("members must be positive")
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    started = time.monotonic()
    # Like loaddata: foreign keys are checked once at the end, not per row. On
    # SQLite that makes the flush 10x faster (DELETE without per-row FK work)
    # and the inserts faster too. (A no-op inside an outer transaction.)
    with connection.constraint_checks_disabled(), transaction.atomic():
        existing = world_member_count()
        if existing and not flush:
            raise WorldExists(existing)
        if flush:
            if progress:
                progress("Deleting the existing world...")
            world_flush(progress=progress)
        _sequences_reset_if_empty()
        at = to_micros(anchor)
        with SqliteBuildCache():
            people, _ = credit_history_build(seed=seed, members=members, anchor=at, progress=progress)
            payments_build(
                seed=seed,
                people=people,
                anchor=at,
                per_member=payments_per_member,
                window_days=payment_window_days,
                fraud_incident_rate=fraud_incident_rate,
                progress=progress,
            )
            if progress:
                progress("Checking foreign keys...")
            connection.check_constraints(table_names=[m._meta.db_table for m in world_models()])
        if progress:
            progress("Measuring the world...")
        summary = world_summary(as_of=anchor)
    summary.seconds = time.monotonic() - started
    return summary


def _sequences_reset_if_empty() -> None:
    """Restart the id sequences of the world's empty tables, so auto ids are reproducible."""
    empty = []
    with connection.cursor() as cursor:
        for model in world_models():
            table = model._meta.db_table
            cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")
            if cursor.fetchone() is None:
                empty.append(table)
    sequences_reset(tables=empty)


__all__ = ["WorldExists", "WorldSummary", "world_flush", "world_member_count", "world_seed", "world_summary"]
