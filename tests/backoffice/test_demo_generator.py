"""The demo world: reproducible, plausible, learnable, and never doubled."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q

from backoffice.demo.generator import FRAUD_PATTERNS
from sunusav.models import Contribution, Loan, Member, Membership, Payment, Tontine

pytestmark = pytest.mark.django_db

MEMBERS = 600


def _seed(*extra):
    out = StringIO()
    args = ["--members", str(MEMBERS), "--anchor", "2026-11-01", *extra]
    if "--members" in extra:
        args = ["--anchor", "2026-11-01", *extra]
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for queryset in (
        Member.objects.order_by("id").values_list("id", "display_name", "phone_hash", "region"),
        Contribution.objects.order_by("member_id", "tontine_id", "round_number").values_list(
            "member_id", "round_number", "amount_sats", "due_at", "paid_at"
        ),
        Payment.objects.order_by("id").values_list("id", "member_id", "amount_sats", "created_at", "fraud_pattern"),
        Loan.objects.order_by("id").values_list("id", "member_id", "status", "offered_at"),
    ):
        for row in queryset:
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_same_seed_same_world_other_seed_other_world():
    _seed("--seed", "3")
    first = _fingerprint()
    _seed("--seed", "3", "--flush")
    assert _fingerprint() == first
    _seed("--seed", "4", "--flush")
    assert _fingerprint() != first


def test_second_run_without_flush_is_refused_and_changes_nothing():
    _seed()
    counts = (Member.objects.count(), Payment.objects.count())
    with pytest.raises(CommandError, match="--flush"):
        _seed()
    assert "keeping it" in _seed("--if-empty")
    assert (Member.objects.count(), Payment.objects.count()) == counts


def test_distributions_are_plausible():
    _seed()
    assert Member.objects.count() == MEMBERS
    assert Member.objects.filter(phone_hash__regex=r"^[0-9a-f]{64}$").count() >= MEMBERS - 2
    sizes = Membership.objects.values("tontine").annotate(n=Count("id")).values_list("n", flat=True)
    assert min(sizes) >= 4 and max(sizes) <= 30  # 5-30 seats, a duplicate seat merged at most
    assert Tontine.objects.filter(cycle="weekly").exists() and Tontine.objects.filter(cycle="monthly").exists()

    fallen_due = Contribution.objects.filter(due_at__lt="2026-10-25T00:00:00+00:00")
    unpaid_share = fallen_due.filter(paid_at__isnull=True).count() / fallen_due.count()
    assert 0.03 < unpaid_share < 0.15

    payments = Payment.objects.count()
    fraud = Payment.objects.filter(is_fraud_label=True).count()
    assert 0.005 < fraud / payments < 0.03
    assert set(Payment.objects.filter(is_fraud_label=True).values_list("fraud_pattern", flat=True)) == set(
        FRAUD_PATTERNS
    )
    assert not Payment.objects.filter(is_fraud_label=False).exclude(fraud_pattern="").exists()

    closed = Loan.objects.filter(status__in=["repaid", "defaulted"])
    default_rate = closed.filter(status="defaulted").count() / closed.count()
    assert 0.08 < default_rate < 0.25


def test_defaults_follow_behaviour_so_credit_has_something_to_learn():
    """Members who miss contributions default more often than members who pay."""
    _seed("--members", "1500")
    missed = dict(
        Member.objects.annotate(
            missed=Count("contributions", filter=Q(contributions__paid_at__isnull=True)),
        ).values_list("id", "missed")
    )
    loans = list(Loan.objects.filter(status__in=["repaid", "defaulted"]).values_list("member_id", "status"))
    worse = [s == "defaulted" for m, s in loans if missed[m] >= 2]
    better = [s == "defaulted" for m, s in loans if missed[m] == 0]
    assert len(worse) > 30 and len(better) > 30
    assert sum(worse) / len(worse) > 2 * sum(better) / len(better)
