"""Features from the database: definitions hold, set-based, as of a moment."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credit.features import FEATURES, Target, features_as_dict, features_for_members, features_for_targets
from tests.factories import (
    ContributionFactory,
    EndorsementFactory,
    MemberFactory,
    MobileMoneyTransferFactory,
    TontineFactory,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _contribution(member, tontine, days_ago: float, paid_after_days: float | None, amount=10_000):
    due = NOW - dt.timedelta(days=days_ago)
    paid = None if paid_after_days is None else due + dt.timedelta(days=paid_after_days)
    return ContributionFactory(member=member, tontine=tontine, due_at=due, paid_at=paid, amount_sats=amount)


def test_each_feature_follows_its_definition():
    member, other = MemberFactory(), MemberFactory()
    tontine = TontineFactory()
    _contribution(member, tontine, 30, 0)  # on time
    _contribution(member, tontine, 20, 1.5)  # within the 2-day grace
    _contribution(member, tontine, 10, 5)  # late by 5 days
    _contribution(member, tontine, 8, None)  # unpaid: 8 days late as of now
    _contribution(member, tontine, 1, None)  # grace not over: not due yet
    _contribution(member, tontine, 400, 0, amount=99_999)  # outside the window
    _contribution(other, tontine, 30, 0)
    MobileMoneyTransferFactory(member=member, amount_xof=70_000, created_at=NOW - dt.timedelta(days=3))
    MobileMoneyTransferFactory(
        member=member, amount_xof=30_000, direction="out", created_at=NOW - dt.timedelta(days=90)
    )
    MobileMoneyTransferFactory(member=member, amount_xof=1_000_000, created_at=NOW - dt.timedelta(days=500))
    for _ in range(3):
        EndorsementFactory(endorsee=member)
    EndorsementFactory(endorsee=other)

    row = features_as_dict(features_for_members([member.id], as_of=timezone.now())[0])

    assert row["tontine_contributions"] == 30_000
    assert row["contributions_count"] == 3
    assert row["punctuality_rate"] == pytest.approx(2 / 4)
    assert row["avg_payment_delay_days"] == pytest.approx((0 + 1.5 + 5 + 8) / 4, abs=0.01)
    assert row["mobile_tx_volume"] == 100_000
    assert row["community_endorsements"] == 3


def test_member_without_history_is_all_zero_and_rows_keep_input_order():
    empty, busy = MemberFactory(), MemberFactory()
    EndorsementFactory(endorsee=busy)
    matrix = features_for_members([busy.id, empty.id])
    assert matrix.shape == (2, len(FEATURES))
    assert matrix[0, FEATURES.index("community_endorsements")] == 1
    assert matrix[1].tolist() == [0.0] * len(FEATURES)


def test_features_as_of_a_past_moment_ignore_what_came_after():
    member = MemberFactory()
    tontine = TontineFactory()
    offered = NOW - dt.timedelta(days=50)
    _contribution(member, tontine, 60, 20)  # paid 10 days after the offer: unpaid as of the offer
    _contribution(member, tontine, 10, 0)  # due after the offer
    EndorsementFactory(endorsee=member, created_at=NOW - dt.timedelta(days=5))
    row = features_as_dict(features_for_targets([Target(key=1, member_id=member.id, as_of=offered)])[0])
    assert row["contributions_count"] == 0
    assert row["punctuality_rate"] == 0
    assert row["avg_payment_delay_days"] == pytest.approx(10, abs=1e-3)
    assert row["community_endorsements"] == 0


def test_query_count_does_not_grow_with_members():
    members = MemberFactory.create_batch(30)
    tontine = TontineFactory()
    for m in members:
        _contribution(m, tontine, 15, 0)
    with CaptureQueriesContext(connection) as queries:
        matrix = features_for_members([m.id for m in members], as_of=NOW)
    assert len(queries) == 3
    assert (matrix[:, FEATURES.index("contributions_count")] == 1).all()
