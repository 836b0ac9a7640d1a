"""The backtest's chunked read: each chunk's features as a stored payment's check derives them, each row read once."""

import random
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from fraud import backtest
from fraud.features import HISTORY_WINDOW, HistoryCodes
from fraud.selectors import EpochMicros, epoch_micros, payment_features
from sunusav.models import Payment
from tests.factories import MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def _world(now):
    """Three members' payments over 40 days: bursts, ties at one microsecond, blank and changing devices."""
    rng = random.Random(15)
    members = [MemberFactory() for _ in range(3)]
    tie = now - timedelta(days=3, microseconds=1)  # several payments of one member at one instant
    for i in range(60):
        member = members[i % 3]
        at = now - timedelta(seconds=rng.randint(0, 40 * 86_400), microseconds=rng.choice([0, rng.randint(1, 999_999)]))
        if i % 7 == 0:
            at = tie
        elif i % 5 == 0:
            at = now - timedelta(days=12, seconds=rng.randint(0, 90))  # a burst
        PaymentFactory(
            member=member,
            created_at=at,
            kind=rng.choice(["invoice", "payment"]),
            device_id=rng.choice(["", "d1", "d2"]),
            location=rng.choice(["", "dakar", "thies"]),
            amount_sats=rng.randint(100, 120_000),
        )


def test_the_database_gives_created_at_in_microseconds_since_the_epoch():
    now = timezone.now()
    for at in (now.replace(microsecond=0), now.replace(microsecond=7), now - timedelta(days=400)):
        PaymentFactory(created_at=at)
    stored = Payment.objects.annotate(us=EpochMicros("created_at")).values_list("created_at", "us")
    assert sorted(us for _, us in stored) == sorted(epoch_micros(at) for at, _ in stored)


@pytest.mark.parametrize("chunk", [4, 7, 1_000])
def test_each_chunk_has_the_features_a_stored_payment_check_reads(monkeypatch, chunk):
    now = timezone.now()
    _world(now)
    monkeypatch.setattr(backtest, "CHUNK", chunk)
    since = now - timedelta(days=30)
    expected = list(Payment.objects.filter(created_at__gte=since, created_at__lte=now).order_by("created_at", "id"))
    codes = HistoryCodes()
    seen = []
    for part in backtest._chunks(since=since, now=now, codes=codes):
        payments = part.payments
        ids = [str(p.pk) for p in expected[len(seen) : len(seen) + len(payments)]]
        assert [str(uuid.UUID(int=i)) for i in payments.ids.tolist()] == ids
        stored = [expected[len(seen) + k] for k in range(len(payments))]
        # Today's derivation of one chunk: its members' history from HISTORY_WINDOW before its first payment.
        assert np.array_equal(part.matrix, payment_features(payments=stored))
        first = part.history.micros[part.rows.start]
        assert part.history.micros.min() >= first - HISTORY_WINDOW // timedelta(microseconds=1)
        seen += ids
        assert len(payments) <= chunk
    assert seen == [str(p.pk) for p in expected]
