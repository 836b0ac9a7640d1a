"""Explanations for members: why the score, in plain French and English, and what would move it up a band.

Everything is computed by the serving scorer (`credit.scoring.score_matrix`:
the active LightGBM model, or the rule fallback when it is unusable), on the
member's features *now*, so the score, the reasons and the counterfactual
come from one model on one input and agree with each other. (The stored
score in `users.credit_score` may be older; it is returned beside, as
`stored_score`. Stored reason codes exist only for declines, so the reasons
are recomputed, with the same codes and sentences as `credit.scoring.REASONS`.)

Counterfactual: the cheapest combination of *actionable* moves whose
features, scored by the same function, reach the next band up (or better):

- `pay_on_time` k (1..12): the next k contributions paid on time:
  `contributions_count` + k, `tontine_contributions` + k × the member's
  contribution, and punctuality and delay recomputed over the contributions
  that have fallen due: (on_time + k) / (due + k) and delay × due / (due + k)
  (a contribution paid on its due date has no delay);
- `settle_overdue`: pay now the contributions past their grace and still
  unpaid (count and sats grow; they stay late, so punctuality does not move);
- `endorsements` e (1..5): e more members vouch for the member;
- `mobile_money` x XOF (10,000 .. 500,000): more mobile-money activity.

Everything else (older contributions leaving the 12-month window, time
passing) is held fixed. Cost, to rank the candidates: 1 per contribution
paid (on time or overdue), 2 per endorsement (it needs someone else), 1 per
25,000 XOF. Ties go to fewer kinds of action, then the higher score. All
1,000-odd candidates are scored in one call. None reaching the band within
these bounds: `counterfactual` is null, never an invented promise.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from credit import selectors
from credit.features import FEATURES, GRACE_DAYS, WINDOW_DAYS, features_for_members
from credit.scoring import BANDS_BEST_FIRST, score_matrix
from sunusav.models import Contribution, Membership, Tontine

ON_TIME_STEPS = tuple(range(0, 13))
ENDORSEMENT_STEPS = tuple(range(0, 6))
MOBILE_STEPS_XOF = (0, 10_000, 25_000, 50_000, 100_000, 200_000, 500_000)
COST_PER_CONTRIBUTION = 1.0
COST_PER_ENDORSEMENT = 2.0
XOF_PER_COST_UNIT = 25_000
DEFAULT_CONTRIBUTION_SATS = 10_000

_I = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class MemberContext:
    """What the counterfactual needs beyond the six features."""

    features: np.ndarray  # one row, FEATURES order
    due: int  # contributions in the window whose grace has ended (punctuality's denominator)
    overdue: int  # of those, still unpaid
    overdue_sats: int
    contribution_sats: float  # what one more contribution adds


def target_band(band: str) -> str | None:
    """Return the band one step better, or None for A."""
    i = BANDS_BEST_FIRST.index(band)
    return None if i == 0 else BANDS_BEST_FIRST[i - 1]


def _rank(band: str) -> int:
    return len(BANDS_BEST_FIRST) - BANDS_BEST_FIRST.index(band)  # E=1 .. A=5


def apply_moves(
    ctx: MemberContext, *, on_time: int = 0, settle: bool = False, endorsements: int = 0, mobile_xof: float = 0
) -> np.ndarray:
    """Return the feature row after the moves (see the module docstring)."""
    x = ctx.features.astype(np.float64).copy()
    if settle and ctx.overdue:
        x[_I["contributions_count"]] += ctx.overdue
        x[_I["tontine_contributions"]] += ctx.overdue_sats
    if on_time:
        due = ctx.due
        on_time_before = x[_I["punctuality_rate"]] * due
        x[_I["contributions_count"]] += on_time
        x[_I["tontine_contributions"]] += on_time * ctx.contribution_sats
        x[_I["punctuality_rate"]] = (on_time_before + on_time) / (due + on_time)
        x[_I["avg_payment_delay_days"]] = x[_I["avg_payment_delay_days"]] * due / (due + on_time)
    x[_I["community_endorsements"]] += endorsements
    x[_I["mobile_tx_volume"]] += mobile_xof
    return x


def _xof(amount: float) -> str:
    return f"{int(amount):,}".replace(",", "\u202f")


def _change(action: str, amount) -> dict:
    if action == "pay_on_time":
        fr = (
            "payer à l'heure votre prochaine cotisation"
            if amount == 1
            else f"payer à l'heure vos {amount} prochaines cotisations"
        )
        en = "pay your next contribution on time" if amount == 1 else f"pay your next {amount} contributions on time"
    elif action == "settle_overdue":
        fr = "régler votre cotisation en retard" if amount == 1 else f"régler vos {amount} cotisations en retard"
        en = "pay your overdue contribution" if amount == 1 else f"pay your {amount} overdue contributions"
    elif action == "endorsements":
        fr = (
            "obtenir une recommandation de plus d'un autre membre"
            if amount == 1
            else f"obtenir {amount} recommandations de plus d'autres membres"
        )
        en = (
            "get one more endorsement from another member"
            if amount == 1
            else f"get {amount} more endorsements from other members"
        )
    else:
        fr = f"faire passer {_xof(amount)} XOF de plus par mobile money sur l'année"
        en = f"move {_xof(amount)} more XOF through mobile money over the year"
    return {"action": action, "amount": amount, "fr": fr, "en": en}


def counterfactual(ctx: MemberContext) -> dict:
    """Score the member and search the cheapest moves to the next band.

    Returns `{score, band, reasons, model_version, fallback, target_band,
    counterfactual}` where `counterfactual` is None for band A or when no
    candidate within the bounds reaches the target, else `{changes, features,
    new_score, new_band, cost}`; `features` maps each changed feature to its
    `{"from", "to"}` values (what the scorer was given).
    """
    settle_steps = (False, True) if ctx.overdue else (False,)
    moves = list(itertools.product(ON_TIME_STEPS, settle_steps, ENDORSEMENT_STEPS, MOBILE_STEPS_XOF))
    rows = np.vstack(
        [ctx.features.astype(np.float64)]
        + [apply_moves(ctx, on_time=k, settle=s, endorsements=e, mobile_xof=x) for k, s, e, x in moves]
    )
    reasons = np.zeros(len(rows), dtype=bool)
    reasons[0] = True
    batch = score_matrix(rows, reasons=reasons)
    base = batch.prediction(0)
    out = {
        "score": base.score,
        "band": base.band,
        "reasons": base.reasons,
        "model_version": base.model_version,
        "fallback": base.fallback,
        "target_band": target_band(base.band),
        "counterfactual": None,
    }
    if out["target_band"] is None:
        return out
    goal = _rank(out["target_band"])
    best = None
    for j, (k, s, e, x) in enumerate(moves, start=1):
        if _rank(batch.bands[j]) < goal or (k, s, e, x) == (0, False, 0, 0):
            continue
        cost = (
            (k + (ctx.overdue if s else 0)) * COST_PER_CONTRIBUTION + e * COST_PER_ENDORSEMENT + x / XOF_PER_COST_UNIT
        )
        kinds = sum(bool(v) for v in (k, s, e, x))
        key = (round(cost, 6), kinds, -float(batch.scores[j]))
        if best is None or key < best[0]:
            best = (key, j, (k, s, e, x), cost)
    if best is None:
        return out
    _, j, (k, s, e, x), cost = best
    changes = []
    if s:
        changes.append(_change("settle_overdue", ctx.overdue))
    if k:
        changes.append(_change("pay_on_time", k))
    if e:
        changes.append(_change("endorsements", e))
    if x:
        changes.append(_change("mobile_money", x))
    before, after = rows[0], rows[j]
    out["counterfactual"] = {
        "changes": changes,
        "features": {
            name: {"from": float(before[i]), "to": float(after[i])}
            for i, name in enumerate(FEATURES)
            if after[i] != before[i]
        },
        "new_score": float(batch.scores[j]),
        "new_band": batch.bands[j],
        "cost": round(cost, 3),
    }
    return out


# --- Messages -----------------------------------------------------------------------------------


def _join(parts: list[str], word: str) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def messages(result: dict) -> dict[str, str]:
    """Return the member's message in French and English from a `counterfactual()` result."""
    band, target = result["band"], result["target_band"]
    if target is None:
        return {
            "fr": "Votre profil de crédit est dans la meilleure catégorie (A). Continuez ainsi !",
            "en": "Your credit profile is in the best band (A). Keep it up!",
        }
    fr = [f"Votre profil de crédit est dans la catégorie {band} (de A, la meilleure, à E)."]
    en = [f"Your credit profile is in band {band} (from A, the best, to E)."]
    if result["reasons"]:
        fr.append("Ce qui pèse le plus : " + " ".join(r["fr"] for r in result["reasons"]))
        en.append("What weighs most: " + " ".join(r["en"] for r in result["reasons"]))
    cf = result["counterfactual"]
    if cf is None:
        fr.append(
            f"Aucun changement simple ne suffit pour passer en catégorie {target} pour l'instant : "
            "continuez à payer vos cotisations à l'heure."
        )
        en.append(f"No simple change is enough to reach band {target} for now: keep paying your contributions on time.")
    else:
        actions = _join([c["fr"] for c in cf["changes"]], "et")
        de = "d'" if actions[0] in "aeiouyéèêh" else "de "  # « il suffirait d'obtenir », « de payer »
        fr.append(f"Pour passer en catégorie {target}, il suffirait {de}{actions}.")
        en.append(f"To reach band {target}, you would need to {_join([c['en'] for c in cf['changes']], 'and')}.")
    return {"fr": " ".join(fr), "en": " ".join(en)}


# --- From the database ----------------------------------------------------------------------------


def member_context(member_id: uuid.UUID, *, as_of: datetime | None = None) -> MemberContext:
    """Return a member's features and contribution facts as of `as_of` (now): four aggregate queries."""
    as_of = as_of or timezone.now()
    features = features_for_members([member_id], as_of=as_of)[0]
    window = Contribution.objects.filter(
        member_id=member_id,
        due_at__gte=as_of - timedelta(days=WINDOW_DAYS),
        due_at__lt=as_of - timedelta(days=GRACE_DAYS),
    )
    unpaid = Q(paid_at__isnull=True) | Q(paid_at__gte=as_of)
    facts = window.aggregate(
        due=Count("id"), overdue=Count("id", filter=unpaid), overdue_sats=Sum("amount_sats", filter=unpaid)
    )
    contribution = Membership.objects.filter(member_id=member_id, tontine__status=Tontine.Status.ACTIVE).aggregate(
        avg=Avg("tontine__contribution_sats")
    )["avg"]
    if contribution is None:
        count = features[_I["contributions_count"]]
        contribution = features[_I["tontine_contributions"]] / count if count else DEFAULT_CONTRIBUTION_SATS
    return MemberContext(
        features=features,
        due=int(facts["due"] or 0),
        overdue=int(facts["overdue"] or 0),
        overdue_sats=int(facts["overdue_sats"] or 0),
        contribution_sats=float(contribution),
    )


def member_explanation(*, member_id: uuid.UUID) -> dict | None:
    """Return the explanation of a member (None: unknown member)."""
    stored = selectors.member_score(member_id=member_id)
    if stored is None:
        return None
    result = counterfactual(member_context(member_id))
    return {
        "member_id": member_id,
        "score": result["score"],
        "band": result["band"],
        "target_band": result["target_band"],
        "reasons": [{k: r[k] for k in ("code", "feature", "fr", "en")} for r in result["reasons"]],
        "message": messages(result),
        "counterfactual": result["counterfactual"],
        "model_version": result["model_version"],
        "fallback": result["fallback"],
        "stored_score": {"score": stored["score"], "band": stored["band"], "updated_at": stored["updated_at"]},
    }
