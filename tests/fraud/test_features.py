"""Features derived from stored history follow their documented windows, one member at a time."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone

from fraud.features import FEATURES, TIME_SINCE_LAST_CAP_SEC
from fraud.selectors import payment_features
from tests.factories import MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def _at(base, seconds, **kwargs):
    return PaymentFactory(created_at=base + dt.timedelta(seconds=seconds), **kwargs)


def test_each_feature_follows_its_window():
    base = timezone.now() - dt.timedelta(days=2)
    member, other = MemberFactory(), MemberFactory()
    first = _at(base, 0, member=member, kind="payment", device_id="a", location="dakar")
    _at(base, 10, member=other, kind="invoice", device_id="z", location="thies")  # never counted for member
    _at(base, 3600, member=member, kind="invoice", device_id="a", location="dakar")
    _at(base, 3630, member=member, kind="invoice", device_id="b", location="dakar")
    _at(base, 3640, member=member, kind="invoice", device_id="", location="thies")  # blank device: no change
    last = _at(base, 3650, member=member, kind="invoice", amount_sats=777, device_id="c", location="thies")
    late = _at(base, 3650 + 25 * 3600, member=member, kind="payment", device_id="c", location="thies")

    rows = payment_features(payments=[last, first, late])
    got = [dict(zip(FEATURES, row, strict=True)) for row in rows]
    assert got[0] == {
        "amount_sats": 777,
        "time_since_last_sec": 10,
        "invoices_last_min": 4,  # 3600 (at -50 s), 3630, 3640 and itself
        "device_changes": 2,  # a->b and b->c; the blank device in between is unknown, not a change
        "location_changes": 1,  # dakar->thies
    }
    assert got[1]["time_since_last_sec"] == TIME_SINCE_LAST_CAP_SEC
    assert got[1]["invoices_last_min"] == 0
    # 25 h later: the changes and invoices have left their windows.
    assert got[2] == {
        "amount_sats": 5000,
        "time_since_last_sec": 25 * 3600,
        "invoices_last_min": 0,
        "device_changes": 0,
        "location_changes": 0,
    }


def test_batch_equals_one_by_one():
    base = timezone.now() - dt.timedelta(hours=5)
    payments = []
    rng = np.random.default_rng(3)
    for member in MemberFactory.create_batch(4):
        for k in range(12):
            payments.append(
                _at(
                    base,
                    float(k * rng.integers(1, 400)),
                    member=member,
                    kind=["invoice", "payment"][k % 2],
                    device_id=f"d{rng.integers(0, 2)}",
                    location=f"l{rng.integers(0, 2)}",
                )
            )
    together = payment_features(payments=payments)
    alone = np.vstack([payment_features(payments=[p]) for p in payments])
    assert np.array_equal(together, alone)
