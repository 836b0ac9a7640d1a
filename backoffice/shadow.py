"""Champion and challenger: who serves a member, and how the two models compare on the same requests.

While a challenger is set (`sunusav.ml.lifecycle.challenger_set`) every credit
and fraud decision scores the same input with both models. The served answer
is the champion's, except for the members an A/B share sends to the
challenger; the other model's answer goes, never returned nor acted on, into
the decision's audit row (`ai_metrics.meta.shadow`), with the arm that served
(`meta.arm`: `champion` or `challenger`).

`shadow_comparison` reads those audit rows back: how often the two agree, how
far the scores move, and, where the outcome is known (a payment's fraud label,
a loan repaid or defaulted), AUC, precision and recall of each model on the
same requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from alerts import payloads
from alerts.models import AIAlert, AIMetric, AlertType
from credit.scoring import DECISION_THRESHOLD
from sunusav.ml.ab import CHALLENGER, CHAMPION
from sunusav.ml.registry import challenger_version_row
from sunusav.models import Loan, Payment

# --- Comparison -----------------------------------------------------------------------------

# Audit rows that carry a shadow answer, per model (all on the (metric_key, created_at) index).
METRIC_KEYS = {"credit": ("credit_prediction", "credit_score"), "fraud": ("fraud_check",)}
# Rows read per metric key, newest first: the comparison's bound.
DEFAULT_LIMIT = 50_000
# A credit decision is labeled by the member's first closed (repaid or
# defaulted) loan offered after it, when offered within this time.
CREDIT_LABEL_HORIZON = timedelta(days=90)
_CHUNK = 1000


@dataclass(frozen=True)
class _Pair:
    """One request as both models answered it."""

    champion_version: str | None
    champion_score: float | None
    champion_label: str | None  # band (credit) or decision (fraud)
    challenger_version: str | None
    challenger_score: float | None
    challenger_label: str | None
    arm: str
    member_id: object
    payment_id: str | None
    created_at: datetime


def shadow_comparison(
    name: str,
    *,
    since: datetime,
    until: datetime | None = None,
    challenger_version: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict:
    """Compare champion and challenger on the audited requests both answered, since `since`.

    Reads at most `limit` newest audit rows per metric key (credit:
    `credit_prediction`, `credit_score`; fraud: `fraud_check`) that carry a
    `shadow` answer, for one challenger version (default: the current
    challenger, else the one of the newest such row). Returns:

    - `count`, `arms` (rows served by each), `shadow_errors` (rows where the
      challenger raised, left out of everything else), `truncated`;
    - `agreement`: share of requests with the same band (credit) or the same
      decision (fraud), and `agreement_count`;
    - `score_shift`: mean and p95 of |challenger score - champion score|;
    - `flagged`: how many each model offers (credit: score >= the decision
      threshold) or holds (fraud);
    - `labeled`: on requests whose outcome is known (fraud: the payment's label,
      overridden by an analyst's verdict on its alert; credit: the first of the
      member's closed loans offered after the request, if offered within 90
      days: repaid or defaulted), the count,
      the positives (fraud / repaid), and per model AUC, precision and recall
      of its decision (fraud: hold; credit: offer), on the same requests.
    """
    if name not in METRIC_KEYS:
        raise ValueError(f"unknown model {name!r}")
    rows, truncated = _shadow_rows(name, since=since, until=until, limit=limit)
    pairs, errors = [], 0
    for row in rows:
        pair = _pair(name, row)
        if pair is None:
            errors += 1
        else:
            pairs.append(pair)
    if challenger_version is None:
        current = challenger_version_row(name)
        if current is not None:
            challenger_version = current.version
        elif pairs:
            challenger_version = max(pairs, key=lambda p: p.created_at).challenger_version
    if challenger_version is not None:
        pairs = [p for p in pairs if p.challenger_version == challenger_version]
    result = {
        "model": name,
        "since": since.isoformat(),
        "until": until.isoformat() if until else None,
        "challenger_version": challenger_version,
        "champion_versions": sorted({p.champion_version for p in pairs if p.champion_version}),
        "count": len(pairs),
        "truncated": truncated,
        "shadow_errors": errors,
        "arms": {
            CHAMPION: sum(p.arm == CHAMPION for p in pairs),
            CHALLENGER: sum(p.arm == CHALLENGER for p in pairs),
        },
        **_agreement(name, pairs),
        "labeled": _labeled(name, pairs),
    }
    return result


def _shadow_rows(name: str, *, since, until, limit: int) -> tuple[list[tuple], bool]:
    fields = ("user_id", "metric_value", "created_at", "meta__model_version", "meta__arm", "meta__shadow")
    fields += ("meta__band",) if name == "credit" else ("meta__decision", "meta__payment_id")
    rows, truncated = [], False
    for key in METRIC_KEYS[name]:
        queryset = AIMetric.objects.filter(metric_key=key, created_at__gte=since)
        if until is not None:
            queryset = queryset.filter(created_at__lt=until)
        found = list(queryset.filter(meta__has_key="shadow").order_by("-created_at").values_list(*fields)[: limit + 1])
        truncated |= len(found) > limit
        rows.extend(found[:limit])
    return rows, truncated


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _pair(name: str, row: tuple) -> _Pair | None:
    member_id, value, created_at, version, arm, shadow = row[:6]
    label = row[6]
    payment_id = row[7] if name == "fraud" else None
    if not isinstance(shadow, dict) or shadow.get("error"):
        return None
    served = (version, _number(value), label)
    other = (
        shadow.get("model_version"),
        _number(shadow.get("score" if name == "credit" else "fraud_score")),
        shadow.get("band" if name == "credit" else "decision"),
    )
    arm = CHALLENGER if arm == CHALLENGER else CHAMPION
    champion, challenger = (other, served) if arm == CHALLENGER else (served, other)
    return _Pair(*champion, *challenger, arm=arm, member_id=member_id, payment_id=payment_id, created_at=created_at)


def _flagged(name: str, score: float | None, label: str | None) -> bool:
    if name == "fraud":
        return label == "hold"
    return score is not None and score >= DECISION_THRESHOLD


def _agreement(name: str, pairs: list[_Pair]) -> dict:
    same = sum(p.champion_label == p.challenger_label for p in pairs)
    shifts = np.array(
        [
            abs(p.challenger_score - p.champion_score)
            for p in pairs
            if p.champion_score is not None and p.challenger_score is not None
        ]
    )
    return {
        "agreement": round(same / len(pairs), 4) if pairs else None,
        "agreement_count": same,
        "score_shift": {
            "count": len(shifts),
            "mean": round(float(shifts.mean()), 6) if len(shifts) else None,
            "p95": round(float(np.percentile(shifts, 95)), 6) if len(shifts) else None,
        },
        "flagged": {
            "decision": "hold" if name == "fraud" else "offer",
            CHAMPION: sum(_flagged(name, p.champion_score, p.champion_label) for p in pairs),
            CHALLENGER: sum(_flagged(name, p.challenger_score, p.challenger_label) for p in pairs),
        },
    }


def _labeled(name: str, pairs: list[_Pair]) -> dict:
    both = [p for p in pairs if p.champion_score is not None and p.challenger_score is not None]
    outcomes = _fraud_labels(both) if name == "fraud" else _credit_labels(both)
    labeled = [(p, y) for p, y in zip(both, outcomes, strict=True) if y is not None]
    y = np.array([label for _, label in labeled], dtype=int)
    out = {
        "positive": "fraud" if name == "fraud" else "repaid",
        "decision": "hold" if name == "fraud" else "offer",
        "count": len(labeled),
        "positives": int(y.sum()),
    }
    for role in (CHAMPION, CHALLENGER):
        scores = np.array([getattr(p, f"{role}_score") for p, _ in labeled], dtype=np.float64)
        flagged = np.array(
            [_flagged(name, getattr(p, f"{role}_score"), getattr(p, f"{role}_label")) for p, _ in labeled], dtype=bool
        )
        out[role] = _classification(y, scores, flagged)
    return out


def _classification(y: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> dict:
    """Return AUC of the scores and precision / recall of the flags against labels y (None where undefined)."""
    auc = None
    if len(y) and 0 < y.sum() < len(y):
        from sklearn.metrics import roc_auc_score

        auc = round(float(roc_auc_score(y, scores)), 4)
    true_positive = int((flagged & (y == 1)).sum())
    return {
        "auc": auc,
        "precision": round(true_positive / int(flagged.sum()), 4) if flagged.any() else None,
        "recall": round(true_positive / int(y.sum()), 4) if y.sum() else None,
        "flagged": int(flagged.sum()),
        "true_positives": true_positive,
    }


def _fraud_labels(pairs: list[_Pair]) -> list[int | None]:
    """Return each request's payment label: the analyst's verdict on its alert, else the payment's ground truth."""
    from django.db.models import TextField
    from django.db.models.fields.json import KeyTextTransform
    from django.db.models.functions import Cast

    ids = sorted({p.payment_id for p in pairs if p.payment_id})
    labels: dict[str, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for payment_id, label in Payment.objects.filter(pk__in=chunk, is_fraud_label__isnull=False).values_list(
            "pk", "is_fraud_label"
        ):
            labels[str(payment_id)] = int(label)
        verdicts = (
            AIAlert.objects.annotate(
                alert_payment_id=Cast(KeyTextTransform(payloads.PAYMENT_ID, "payload"), TextField())
            )
            .filter(alert_type=AlertType.FRAUD_SUSPECT, resolved=True, alert_payment_id__in=chunk)
            .values_list("alert_payment_id", f"payload__{payloads.OUTCOME}")
        )
        for payment_id, outcome in verdicts:
            if outcome in {"confirmed_fraud", "false_positive"}:
                labels[str(payment_id)] = int(outcome == "confirmed_fraud")
    return [labels.get(str(p.payment_id)) if p.payment_id else None for p in pairs]


def _credit_labels(pairs: list[_Pair]) -> list[int | None]:
    """Return each request's outcome: the member's first closed loan offered after it (within the horizon), repaid 1, defaulted 0."""
    members = sorted({p.member_id for p in pairs if p.member_id is not None}, key=str)
    if not members:
        return [None] * len(pairs)
    since = min(p.created_at for p in pairs)
    loans: dict[object, list[tuple[datetime, int]]] = {}
    for start in range(0, len(members), _CHUNK):
        chunk = members[start : start + _CHUNK]
        closed = (
            Loan.objects.filter(
                member_id__in=chunk, status__in=[Loan.Status.REPAID, Loan.Status.DEFAULTED], offered_at__gte=since
            )
            .order_by("member_id", "offered_at")
            .values_list("member_id", "offered_at", "status")
        )
        for member_id, offered_at, status in closed:
            loans.setdefault(member_id, []).append((offered_at, int(status == Loan.Status.REPAID)))
    out: list[int | None] = []
    for p in pairs:
        label = None
        for offered_at, repaid in loans.get(p.member_id, ()):
            if offered_at >= p.created_at:
                if offered_at < p.created_at + CREDIT_LABEL_HORIZON:
                    label = repaid
                break
        out.append(label)
    return out
