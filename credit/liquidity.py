"""The producer of `liquidity_short` alerts: will the next payout's pot be full?

Before each tontine's payout, project the pot of the current round:

    projected = paid so far + Σ over unpaid members of P(member pays) × contribution

where P(member pays) is the member's share of past contributions paid at all,
smoothed towards 3/4 for members with little history ((paid + 3) / (due + 4)).
When `1 - projected / expected` exceeds `LIQUIDITY_SHORTFALL_SHARE` and the
payout falls within `LIQUIDITY_LOOKAHEAD_DAYS`, raise one alert per tontine
round (a unique index on the payload's tontine and round makes that hold under
retries), addressed to the member due to receive the pot.

The round in progress is derived from the tontine's start and cycle: round r
runs from `started_at + (r-1) × cycle` and pays out at `started_at + r × cycle`.

Rotation exposure (`credit.exposure`) joins the decision: each projection
carries `exposure_sats` (what members who already took the pot this cycle
still owe, weighted by their probability of default) and `exposure_share`
(that amount over the payouts still to make this cycle). The alert is raised
when `risk_share = max(shortfall_share, exposure_share)` exceeds
`LIQUIDITY_SHORTFALL_SHARE`: either the next pot is projected short, or too
much of what remains to be paid out depends on members who have already been
paid. The payload says which (`triggers`: `round_shortfall`,
`rotation_exposure`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from alerts import payloads
from alerts.models import AIAlert, AlertType
from alerts.services import alert_create
from cases.services import case_item_attach
from credit.exposure import rotation_exposures
from sunusav.models import Contribution, Membership, Tontine

PRIOR_PAID, PRIOR_DUE = 3, 4


def liquidity_projections(*, now: datetime | None = None, tontine_ids=None) -> list[dict]:
    """Return the projected pot of every active tontine's round in progress."""
    now = now or timezone.now()
    tontines = Tontine.objects.filter(status=Tontine.Status.ACTIVE)
    if tontine_ids is not None:
        tontines = tontines.filter(id__in=tontine_ids)
    tontines = list(tontines)
    if not tontines:
        return []
    rounds = {t.id: t.current_round(now) for t in tontines}
    seats = defaultdict(dict)  # tontine -> {member: position}
    for tontine_id, member_id, position in Membership.objects.filter(tontine__in=tontines).values_list(
        "tontine_id", "member_id", "position"
    ):
        seats[tontine_id][member_id] = position
    member_ids = {m for s in seats.values() for m in s}

    # Who has paid the round in progress, in one query.
    paid_now = defaultdict(dict)
    for tontine_id, member_id, round_number, amount in Contribution.objects.filter(
        tontine__in=tontines, paid_at__isnull=False, paid_at__lte=now
    ).values_list("tontine_id", "member_id", "round_number", "amount_sats"):
        if round_number == rounds[tontine_id][0]:
            paid_now[tontine_id][member_id] = amount

    # Each member's history of paying at all, across tontines, in one query.
    history = {
        row["member_id"]: (row["paid"], row["due"])
        for row in Contribution.objects.filter(member_id__in=member_ids, due_at__lt=now)
        .values("member_id")
        .annotate(due=Count("id"), paid=Count("id", filter=Q(paid_at__isnull=False)))
    }

    exposures = rotation_exposures(now=now, tontine_ids=[t.id for t in tontines])

    projections = []
    for tontine in tontines:
        round_number, payout_at = rounds[tontine.id]
        members = seats[tontine.id]
        if not members:
            continue
        expected = tontine.contribution_sats * len(members)
        paid = sum(paid_now[tontine.id].values())
        unpaid = [m for m in members if m not in paid_now[tontine.id]]
        expected_from_unpaid = 0.0
        for member_id in unpaid:
            done, due = history.get(member_id, (0, 0))
            expected_from_unpaid += tontine.contribution_sats * (done + PRIOR_PAID) / (due + PRIOR_DUE)
        projected = paid + expected_from_unpaid
        position = (round_number - 1) % len(members) + 1
        recipient = next((m for m, p in members.items() if p == position), None)
        exposure = exposures.get(str(tontine.id), {})
        shortfall_share = round(max(0.0, 1 - projected / expected), 4)
        exposure_share = exposure.get("exposure_share", 0.0)
        projections.append(
            {
                "tontine_id": str(tontine.id),
                "tontine_name": tontine.name,
                "round": round_number,
                "payout_at": payout_at.isoformat(),
                "recipient_id": str(recipient) if recipient else None,
                "members": len(members),
                "members_unpaid": len(unpaid),
                "expected_sats": expected,
                "paid_sats": paid,
                "projected_sats": round(projected),
                "shortfall_sats": max(0, round(expected - projected)),
                "shortfall_share": shortfall_share,
                "owed_by_recipients_sats": exposure.get("owed_by_recipients_sats", 0),
                "exposure_sats": exposure.get("exposure_sats", 0),
                "remaining_payouts_sats": exposure.get("remaining_payouts_sats", 0),
                "exposure_share": exposure_share,
                "risk_share": max(shortfall_share, exposure_share),
            }
        )
    return projections


def liquidity_check(*, now: datetime | None = None) -> list[AIAlert]:
    """Raise `liquidity_short` for payouts due soon whose projected shortfall or rotation exposure is too large."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.LIQUIDITY_LOOKAHEAD_DAYS)
    raised = []
    for projection in liquidity_projections(now=now):
        threshold = settings.LIQUIDITY_SHORTFALL_SHARE
        if projection["risk_share"] <= threshold:
            continue
        if datetime.fromisoformat(projection["payout_at"]) > horizon:
            continue
        triggers = [
            name
            for name, share in (
                ("round_shortfall", projection["shortfall_share"]),
                ("rotation_exposure", projection["exposure_share"]),
            )
            if share > threshold
        ]
        payload = payloads.liquidity_short(projection=projection, threshold_share=threshold, triggers=triggers)
        try:
            with transaction.atomic():
                alert = alert_create(
                    member_id=uuid.UUID(projection["recipient_id"]) if projection["recipient_id"] else None,
                    alert_type=AlertType.LIQUIDITY_SHORT,
                    payload=payload,
                )
                case_item_attach(alert=alert)  # the tontine's open liquidity case takes it
                raised.append(alert)
        except IntegrityError:
            continue  # this round is already flagged
    return raised
