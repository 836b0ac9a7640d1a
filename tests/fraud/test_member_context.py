"""The member's own baseline: hand-built histories, unknowns, and the two forms (numpy and one query) agreeing."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from fraud.features import history_from_rows
from fraud.member_context import CONTEXT, context_from_history, member_context_at
from sunusav.models import Member, Payment
from tests.factories import MembershipFactory, TontineFactory

pytestmark = pytest.mark.django_db

FIELDS = ("id", "member_id", "created_at", "kind", "device_id", "location", "amount_sats")
COL = {name: i for i, name in enumerate(CONTEXT)}
DAY9 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def _pay(member, at, amount, kind="invoice", device="dev-a", location="Dakar"):
    return Payment(
        member=member,
        created_at=at,
        amount_sats=amount,
        kind=kind,
        device_id=device,
        location=location,
        status="settled",
    )


def _vectorised(member):
    rows = list(Payment.objects.filter(member=member).order_by("created_at").values_list(*FIELDS))
    micros = np.array([int(r[2].timestamp() * 1_000_000) for r in rows], dtype=np.int64)
    return rows, context_from_history(history_from_rows(rows), micros)


def test_a_vendor_s_morning_invoices_are_ordinary_for_the_vendor():
    vendor = Member.objects.create(display_name="Awa vendeuse")
    payments = [
        _pay(vendor, DAY9 + dt.timedelta(days=d, minutes=2 * i), 1_500 + 10 * i) for d in range(10) for i in range(25)
    ]
    Payment.objects.bulk_create(payments)
    at = DAY9 + dt.timedelta(days=10, minutes=30)
    ctx = member_context_at(member_id=vendor.pk, at=at, amount_sats=1_600, device="dev-a", location="Dakar")
    assert ctx[COL["member_payments_90d"]] == 250
    assert abs(ctx[COL["amount_z_90d"]]) < 1.5  # an amount like her others
    assert ctx[COL["invoice_rate_hour_90d"]] == pytest.approx(250 / 90)  # all at 9 h, Dakar time
    assert ctx[COL["device_seen_days"]] == pytest.approx(10 + 30 / 1440, abs=1e-6)
    assert ctx[COL["account_age_days"]] == pytest.approx(ctx[COL["device_seen_days"]])
    # At 15 h she has no invoicing habit.
    later = member_context_at(member_id=vendor.pk, at=at + dt.timedelta(hours=6), amount_sats=1_600)
    assert later[COL["invoice_rate_hour_90d"]] == 0


def test_a_new_phone_then_at_once_a_large_transfer_stands_out():
    member = Member.objects.create(display_name="Moussa")
    Payment.objects.bulk_create(
        [_pay(member, DAY9 + dt.timedelta(days=2 * i), 5_000 + 100 * i, kind="payment") for i in range(20)]
    )
    at = DAY9 + dt.timedelta(days=41)
    ctx = member_context_at(member_id=member.pk, at=at, amount_sats=500_000, device="dev-new", location="Dakar")
    assert ctx[COL["device_seen_days"]] == 0  # never seen for him
    assert ctx[COL["location_seen_days"]] > 30
    assert ctx[COL["amount_z_90d"]] > 10


def test_unknowns_stay_unknown():
    member = Member.objects.create(display_name="Nouveau")
    Payment.objects.bulk_create([_pay(member, DAY9, 2_000), _pay(member, DAY9 + dt.timedelta(hours=1), 2_000)])
    ctx = member_context_at(member_id=member.pk, at=DAY9 + dt.timedelta(days=1), amount_sats=3_000)
    assert np.isnan(ctx[COL["amount_z_90d"]])  # two earlier payments are not a baseline
    assert np.isnan(ctx[COL["device_seen_days"]]) and np.isnan(ctx[COL["location_seen_days"]])  # none named
    assert ctx[COL["member_payments_90d"]] == 2 and ctx[COL["account_age_days"]] == pytest.approx(1.0)


def test_the_window_is_ninety_days_and_the_payment_itself_never_counts():
    member = Member.objects.create(display_name="Ancien")
    old = _pay(member, DAY9 - dt.timedelta(days=95), 9_000)
    Payment.objects.bulk_create([old, *(_pay(member, DAY9 + dt.timedelta(hours=h), 1_000) for h in range(4))])
    rows, ctx = _vectorised(member)
    assert ctx[0, COL["member_payments_90d"]] == 0 and ctx[0, COL["account_age_days"]] == 0
    assert ctx[1, COL["member_payments_90d"]] == 0  # the 95-day-old one is out of the window
    assert ctx[4, COL["member_payments_90d"]] == 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_one_query_form_gives_the_numpy_form_s_answer_for_every_stored_payment(seed):
    rng = np.random.default_rng(seed)
    members = [Member.objects.create(display_name=f"M{seed}-{i}") for i in range(3)]
    start = timezone.now() - dt.timedelta(days=150)
    rows = []
    for member in members:
        t = start
        for _ in range(int(rng.integers(5, 60))):
            t += dt.timedelta(seconds=float(rng.exponential(3 * 86_400)) + 1)
            rows.append(
                _pay(
                    member,
                    t,
                    int(rng.lognormal(8, 1.5)) + 1,
                    kind="invoice" if rng.random() < 0.5 else "payment",
                    device=rng.choice(["", "d1", "d2", "d3"]),
                    location=rng.choice(["", "Dakar", "Touba", "Thiès"]),
                )
            )
    Payment.objects.bulk_create(rows)
    for member in members:
        stored, vectorised = _vectorised(member)
        for i, row in enumerate(stored):
            one = member_context_at(
                member_id=member.pk, at=row[2], amount_sats=row[6], device=row[4], location=row[5], exclude=row[0]
            )
            np.testing.assert_allclose(one, vectorised[i], rtol=1e-9, atol=1e-6, equal_nan=True, err_msg=str(i))


def test_a_collector_s_invoices_on_her_payout_day_are_near_her_own_payout():
    # Seat 3 of a weekly tontine started on 1 November collects the pot of round 3: due 22 November.
    tontine = TontineFactory(cycle="weekly", started_at=DAY9 - dt.timedelta(hours=9))
    collector = MembershipFactory(tontine=tontine, position=3).member
    other = MembershipFactory(tontine=TontineFactory(cycle="monthly", started_at=DAY9), position=1).member
    payout = tontine.started_at + dt.timedelta(days=21)
    Payment.objects.bulk_create(
        [_pay(collector, DAY9 + dt.timedelta(days=d), 5_000, kind="payment") for d in range(0, 20, 4)]
        + [_pay(collector, payout + dt.timedelta(hours=10, minutes=3 * i), 10_000) for i in range(8)]
        + [_pay(other, DAY9 + dt.timedelta(days=d), 5_000) for d in range(3)]
    )
    at = payout + dt.timedelta(hours=11)
    ctx = member_context_at(member_id=collector.pk, at=at, amount_sats=10_000)
    assert ctx[COL["own_payout_days"]] == pytest.approx(11 / 24, abs=1e-6)
    # A member's only seat: days since (or, negative, until) its payout, the first of the monthly tontine's.
    assert member_context_at(member_id=other.pk, at=DAY9, amount_sats=5_000)[COL["own_payout_days"]] == pytest.approx(
        -30, abs=1e-6
    )
    # No seat: unknown.
    loner = Member.objects.create(display_name="Sans tontine")
    assert np.isnan(member_context_at(member_id=loner.pk, at=at, amount_sats=1)[COL["own_payout_days"]])
    # The numpy form (training, backtests) says the same for every stored payment.
    for member in (collector, other):
        rows, vectorised = _vectorised(member)
        for row, expected in zip(rows, vectorised, strict=True):
            ctx = member_context_at(
                member_id=member.pk, at=row[2], amount_sats=row[6], device=row[4], location=row[5], exclude=row[0]
            )
            assert ctx[COL["own_payout_days"]] == pytest.approx(expected[COL["own_payout_days"]], abs=1e-6)


def test_the_hour_and_the_day_before_the_usual_and_high_amounts_and_the_credit_score():
    member = Member.objects.create(display_name="Fatou", credit_score="0.812")
    at = DAY9 + dt.timedelta(days=30)
    Payment.objects.bulk_create(
        [_pay(member, DAY9 + dt.timedelta(days=d), 10_000, kind="payment") for d in range(0, 28, 2)]
        + [_pay(member, at - dt.timedelta(hours=5), 20_000), _pay(member, at - dt.timedelta(minutes=20), 30_000)]
    )
    ctx = member_context_at(member_id=member.pk, at=at, amount_sats=5_000)
    assert (ctx[COL["payments_1h"]], ctx[COL["sats_1h"]]) == (1, 30_000)
    assert (ctx[COL["payments_24h"]], ctx[COL["sats_24h"]]) == (2, 50_000)
    # Fourteen payments of 10,000 and two larger: the usual amount near 10,000, the high one above it.
    assert 10_000 < ctx[COL["amount_median_90d"]] < 12_000 < ctx[COL["amount_p95_90d"]] < 40_000
    assert ctx[COL["credit_score"]] == pytest.approx(0.812)
    rows, vectorised = _vectorised(member)
    last = vectorised[-1]  # the 30,000 payment: one payment in the hour before it? none; the 20,000 in its day
    assert (last[COL["payments_1h"]], last[COL["payments_24h"]], last[COL["sats_24h"]]) == (0, 1, 20_000)
    assert last[COL["credit_score"]] == pytest.approx(0.812)
    unscored = Member.objects.create(display_name="Sans score")
    assert np.isnan(member_context_at(member_id=unscored.pk, at=at, amount_sats=1)[COL["credit_score"]])
