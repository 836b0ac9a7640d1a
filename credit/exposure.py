"""Rotation exposure: what members who already took the pot still owe, weighted by their risk of default.

In a tontine of n seats, round r pays the pot (contribution × n) to the seat
at position `(r - 1) % n + 1`; a *cycle* is n consecutive rounds, so every
seat takes the pot once per cycle. Early takers have been paid before they
have paid in: what they still owe the cycle is the risk the later takers
carry. For the active tontines' cycle in progress (round r in progress, the
cycle's rounds `first..last`):

- recipients: the seats paid out in this cycle so far (rounds `first..r-1`;
  round r pays out at its end, so its taker is not one yet);
- owed by a recipient: contribution × n − sats they paid (by now) for the
  cycle's rounds, never below 0 (arrears of past rounds included);
- P(default) of a recipient: 1 − `users.credit_score` when scored; otherwise
  1 − the credit rule fallback's score of their features now
  (`credit.scoring.rules_score`), marked `pd_source: rules`;
- `exposure_sats` = Σ owed × P(default); `remaining_payouts_sats` = pot ×
  rounds left to pay out (r..last); `exposure_share` = exposure ÷ remaining
  payouts: the expected share of what is still to be paid out that the
  members already paid will not bring in.

A handful of queries whatever the number of tontines (tontines, seats, paid
contributions, scores, and the fallback's features for the unscored).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import numpy as np
from django.utils import timezone

from credit.features import features_for_members
from credit.scoring import rules_score
from sunusav.models import Contribution, Member, Membership, Tontine


def rotation_exposures(*, now: datetime | None = None, tontine_ids=None) -> dict[str, dict]:
    """Return `{tontine id: exposure}` for the active tontines (optionally only `tontine_ids`)."""
    now = now or timezone.now()
    tontines = Tontine.objects.filter(status=Tontine.Status.ACTIVE)
    if tontine_ids is not None:
        tontines = tontines.filter(id__in=tontine_ids)
    tontines = list(tontines)
    if not tontines:
        return {}
    seats: dict = defaultdict(dict)  # tontine -> {position: member}
    for tontine_id, member_id, position in Membership.objects.filter(tontine__in=tontines).values_list(
        "tontine_id", "member_id", "position"
    ):
        seats[tontine_id][position] = member_id

    cycles = {}
    recipients: dict = {}
    for tontine in tontines:
        n = len(seats[tontine.id])
        if not n:
            continue
        r, _ = tontine.current_round(now)
        first = (r - 1) // n * n + 1
        cycles[tontine.id] = (r, first, first + n - 1, n)
        # Round k pays the seat at position (k - 1) % n + 1, as in credit.liquidity.
        taken = [(k - 1) % n + 1 for k in range(first, r)]
        recipients[tontine.id] = [(p, seats[tontine.id][p]) for p in taken if p in seats[tontine.id]]

    paid: dict = defaultdict(int)  # (tontine, member) -> sats paid for the cycle's rounds
    recipient_ids = {m for rows in recipients.values() for _, m in rows}
    for tontine_id, member_id, round_number, amount in Contribution.objects.filter(
        tontine__in=list(cycles), member_id__in=recipient_ids, paid_at__isnull=False, paid_at__lte=now
    ).values_list("tontine_id", "member_id", "round_number", "amount_sats"):
        _, first, last, _ = cycles[tontine_id]
        if first <= round_number <= last:
            paid[(tontine_id, member_id)] += amount

    scores = dict(Member.objects.filter(id__in=recipient_ids).values_list("id", "credit_score"))
    unscored = sorted((m for m in recipient_ids if scores.get(m) is None), key=str)
    fallback = {}
    if unscored:
        fallback = dict(zip(unscored, rules_score(features_for_members(unscored, as_of=now)).tolist(), strict=True))

    out = {}
    for tontine in tontines:
        if tontine.id not in cycles:
            continue
        r, first, last, n = cycles[tontine.id]
        pot = tontine.contribution_sats * n
        rows, exposure, owed_total = [], 0.0, 0
        for position, member_id in recipients[tontine.id]:
            owed = max(0, tontine.contribution_sats * n - paid[(tontine.id, member_id)])
            if scores.get(member_id) is not None:
                pd, source = 1.0 - float(scores[member_id]), "score"
            else:
                pd, source = 1.0 - float(fallback[member_id]), "rules"
            pd = float(np.clip(pd, 0.0, 1.0))
            exposure += owed * pd
            owed_total += owed
            rows.append(
                {
                    "member_id": str(member_id),
                    "position": position,
                    "owed_sats": owed,
                    "p_default": round(pd, 3),
                    "pd_source": source,
                }
            )
        remaining = pot * (last - r + 1)
        out[str(tontine.id)] = {
            "tontine_id": str(tontine.id),
            "round": r,
            "cycle_rounds": [first, last],
            "recipients": rows,
            "owed_by_recipients_sats": owed_total,
            "exposure_sats": round(exposure),
            "remaining_payouts_sats": remaining,
            "exposure_share": round(exposure / remaining, 4) if remaining else 0.0,
        }
    return out
