"""A small labeled payment world for fraud tests: normal traffic plus the four injected patterns."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
from django.utils import timezone

from sunusav.models import Member, Payment


def synthetic_world(*, members: int = 60, seed: int = 0, fraud_members: int = 12) -> list[Member]:
    """Store `members` members with ~40 normal payments each; inject fraud into some; return the members."""
    rng = np.random.default_rng(seed)
    # Anchored at the start of today: the world's hours of the day (which the member baseline reads) do not
    # depend on when the test runs, so a seed gives the same world at any time.
    now = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    # Ids from the seed too: training splits members by sorted id, so random ids would change the split per run.
    people = Member.objects.bulk_create(
        [Member(id=uuid.UUID(bytes=rng.bytes(16), version=4), display_name=f"Synth {seed}-{i}") for i in range(members)]
    )
    rows = []
    patterns = ["account_takeover", "invoice_burst", "rapid_repeat", "structuring"]
    for index, member in enumerate(people):
        device, place = f"dev-{index}", f"loc-{index % 7}"
        t = now - dt.timedelta(days=40)
        for _ in range(40):
            t += dt.timedelta(seconds=float(rng.exponential(20 * 3600)) + 120)
            rows.append(
                Payment(
                    member=member,
                    kind="invoice" if rng.random() < 0.3 else "payment",
                    amount_sats=int(rng.lognormal(9.5, 0.6)) + 100,
                    device_id=device if rng.random() > 0.03 else f"{device}-b",
                    location=place,
                    status=Payment.Status.SETTLED,
                    created_at=t,
                    is_fraud_label=False,
                )
            )
        if index >= fraud_members:
            continue
        pattern = patterns[index % 4]
        t += dt.timedelta(hours=3)
        if pattern == "account_takeover":
            rows.append(_fraud(member, pattern, t, int(rng.integers(400_000, 2_000_000)), "thief-dev", "far-away"))
        elif pattern == "invoice_burst":
            for k in range(10):
                rows.append(_fraud(member, pattern, t + dt.timedelta(seconds=4 * k), 2_000, device, place, "invoice"))
        elif pattern == "rapid_repeat":
            for k in range(5):
                rows.append(_fraud(member, pattern, t + dt.timedelta(seconds=3 * k), 150_000, device, place))
        else:
            for k in range(4):
                amount = int(rng.integers(900_000, 990_000))
                rows.append(_fraud(member, pattern, t + dt.timedelta(minutes=7 * k), amount, device, place))
    Payment.objects.bulk_create(rows, batch_size=2000)
    return people


def _fraud(member, pattern, when, amount, device, place, kind="payment") -> Payment:
    return Payment(
        member=member,
        kind=kind,
        amount_sats=amount,
        device_id=device,
        location=place,
        status=Payment.Status.PENDING,
        created_at=when,
        is_fraud_label=True,
        fraud_pattern=pattern,
    )
