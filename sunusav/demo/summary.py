"""What a demo world looks like, measured in the database (so it describes any world, seeded or not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count

from sunusav.models import Contribution, Endorsement, Loan, Member, Membership, MobileMoneyTransfer, Payment, Tontine

GRACE = timedelta(days=2)  # as in credit/features.py: paid within two days of the due date is on time
LATE_PAYER_SHARE = 0.2  # a member with at least this share of late or missed contributions is a late payer


@dataclass
class WorldSummary:
    """Counts and rates of a world; `seconds` is filled in by whoever timed the build."""

    members: int = 0
    tontines: int = 0
    memberships: int = 0
    multi_tontine_members: int = 0
    contributions: int = 0
    contributions_fallen_due: int = 0
    late_share: float = 0.0  # of contributions past their grace: paid late or not at all
    missed_share: float = 0.0  # of the same: not paid at all
    late_payer_share: float = 0.0  # of members with contributions past grace
    mobile_transfers: int = 0
    endorsements: int = 0
    loans: int = 0
    loans_by_status: dict[str, int] = field(default_factory=dict)
    borrower_share: float = 0.0
    default_rate: float = 0.0  # defaulted / (repaid + defaulted)
    payments: int = 0
    fraud_payments: int = 0
    fraud_rate: float = 0.0
    fraud_by_pattern: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """Return the summary as a few human-readable lines."""
        patterns = ", ".join(
            f"{name} {count:,} ({count / max(self.payments, 1):.2%})" for name, count in self.fraud_by_pattern.items()
        )
        statuses = ", ".join(f"{name} {count:,}" for name, count in self.loans_by_status.items())
        return [
            f"members {self.members:,}; tontines {self.tontines:,} ({self.memberships:,} seats, "
            f"{self.multi_tontine_members:,} members in 2+)",
            f"contributions {self.contributions:,}: late {self.late_share:.1%} (missed {self.missed_share:.1%}) "
            f"of those past grace; late payers (>= {LATE_PAYER_SHARE:.0%} late) {self.late_payer_share:.1%} of members",
            f"mobile-money transfers {self.mobile_transfers:,}; endorsements {self.endorsements:,}",
            f"loans {self.loans:,} ({statuses}); borrowers {self.borrower_share:.1%} of members; "
            f"default rate {self.default_rate:.1%} of closed loans",
            f"payments {self.payments:,}: fraud {self.fraud_payments:,} ({self.fraud_rate:.2%}): {patterns}",
            f"built in {self.seconds:.1f} s",
        ]


def world_summary(*, as_of: datetime) -> WorldSummary:
    """Measure the world in the database as of `as_of` (the seed's anchor)."""
    s = WorldSummary()
    s.members = Member.objects.count()
    s.tontines = Tontine.objects.count()
    s.memberships = Membership.objects.count()
    s.multi_tontine_members = (
        Membership.objects.values("member").annotate(seats=Count("id")).filter(seats__gte=2).count()
    )
    s.contributions = Contribution.objects.count()

    # Raw SQL: the ORM's `F("due_at") + GRACE` runs a Python function per row on SQLite (40 s on 2M rows).
    if connection.vendor == "postgresql":
        late_after_grace = "c.paid_at > c.due_at + interval '2 days'"
    else:
        late_after_grace = "julianday(c.paid_at) - julianday(c.due_at) > 2"
    sql = f"""
        SELECT COUNT(*), COUNT(CASE WHEN c.paid_at IS NULL OR {late_after_grace} THEN 1 END),
               COUNT(CASE WHEN c.paid_at IS NULL THEN 1 END)
        FROM contributions c WHERE c.due_at < %s GROUP BY c.member_id
    """
    due_total = late_total = missed_total = late_payers = members_due = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(as_of - GRACE)])
        for due, late_count, missed in cursor.fetchall():
            due_total += due
            late_total += late_count
            missed_total += missed
            members_due += 1
            late_payers += late_count >= LATE_PAYER_SHARE * due
    s.contributions_fallen_due = due_total
    s.late_share = late_total / due_total if due_total else 0.0
    s.missed_share = missed_total / due_total if due_total else 0.0
    s.late_payer_share = late_payers / members_due if members_due else 0.0

    s.mobile_transfers = MobileMoneyTransfer.objects.count()
    s.endorsements = Endorsement.objects.count()
    s.loans_by_status = dict(
        Loan.objects.values_list("status").annotate(n=Count("id")).order_by("status").values_list("status", "n")
    )
    s.loans = sum(s.loans_by_status.values())
    s.borrower_share = Loan.objects.values("member").distinct().count() / s.members if s.members else 0.0
    closed = s.loans_by_status.get(Loan.Status.REPAID, 0) + s.loans_by_status.get(Loan.Status.DEFAULTED, 0)
    s.default_rate = s.loans_by_status.get(Loan.Status.DEFAULTED, 0) / closed if closed else 0.0

    s.payments = Payment.objects.count()
    s.fraud_by_pattern = dict(
        Payment.objects.filter(is_fraud_label=True)
        .values_list("fraud_pattern")
        .annotate(n=Count("id"))
        .order_by("fraud_pattern")
        .values_list("fraud_pattern", "n")
    )
    s.fraud_payments = sum(s.fraud_by_pattern.values())
    s.fraud_rate = s.fraud_payments / s.payments if s.payments else 0.0
    return s
