"""The member risk page's data: score, history, contributions, alerts, holds, endorsements, explanation."""

from __future__ import annotations

import numpy as np
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from alerts.models import AIAlert, AIMetric
from alerts.payloads import AlertPayload
from cases.models import Case
from credit import explain
from credit.features import FEATURES, WINDOW_DAYS, features_for_members
from credit.scoring import DECISION_THRESHOLD, bands_of
from credit.services import SCORE_KEY
from sunusav import models
from sunusav.presenters import reason_texts, sats_and_xof, ui_in_english

PAGE_ROWS = 20
HISTORY_POINTS = 60


def member_explanation(member: models.Member) -> dict | None:
    """The member's explanation (as `GET /api/credit/members/<id>/explanation` gives it) in the page's language."""
    explanation = explain.member_explanation(member_id=member.pk)
    if explanation is None:
        return None
    lang = "en" if ui_in_english() else "fr"
    cf = explanation["counterfactual"]
    return {
        "message": explanation["message"][lang],
        "target_band": explanation["target_band"],
        "changes": [change[lang] for change in cf["changes"]] if cf else [],
        "new_score": cf["new_score"] if cf else None,
        "new_band": cf["new_band"] if cf else None,
    }


def sparkline(values: list[float], *, width: int = 260, height: int = 56, pad: int = 4) -> dict | None:
    """Return the coordinates of an inline SVG sparkline of scores in [0, 1] (drawn by the template)."""
    if not values:
        return None

    def y(v: float) -> float:
        return pad + (1 - min(max(v, 0.0), 1.0)) * (height - 2 * pad)

    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [(pad + i * step, y(v)) for i, v in enumerate(values)]
    return {
        "width": width,
        "height": height,
        "points": " ".join(f"{px:.1f},{py:.1f}" for px, py in points),
        "last_x": f"{points[-1][0]:.1f}",
        "last_y": f"{points[-1][1]:.1f}",
        "threshold_y": f"{y(DECISION_THRESHOLD):.1f}",
        "threshold": DECISION_THRESHOLD,
        "min": min(values),
        "max": max(values),
        "count": len(values),
    }


def _with_amount(payment: models.Payment) -> models.Payment:
    payment.amount_display = sats_and_xof(payment.amount_sats)
    return payment


CASES_SHOWN = 5


def _alert_row(alert: AIAlert) -> dict:
    """An open alert as one distinct line: its type, amount and first reason (not 14 identical lines)."""
    payload = AlertPayload.of(alert)
    reasons = reason_texts(payload.reasons)
    amount = payload.amount_sats if alert.alert_type == "fraud_suspect" else None
    return {
        "alert": alert,
        "amount": sats_and_xof(amount) if amount is not None else "",
        "reason": reasons[0] if reasons else "",
    }


def member_risk(member: models.Member) -> dict:
    """Return what the member risk page shows, in a bounded number of indexed queries."""
    history = list(
        AIMetric.objects.filter(user=member, metric_key=SCORE_KEY)
        .order_by("-created_at")
        .values_list("created_at", "metric_value", "meta")[:HISTORY_POINTS]
    )
    history.reverse()
    latest = history[-1] if history else None
    meta = (latest[2] or {}) if latest else {}
    score = member.credit_score if member.credit_score is not None else (latest[1] if latest else None)
    band = meta.get("band") or (bands_of(np.array([float(score)]))[0] if score is not None else None)
    values = [float(v) for _, v, _ in history if v is not None]

    features = dict(zip(FEATURES, (float(v) for v in features_for_members([member.pk])[0]), strict=True))
    now = timezone.now()
    totals = models.Contribution.objects.filter(member=member, due_at__lte=now).aggregate(
        due=Count("id"),
        paid=Count("id", filter=Q(paid_at__isnull=False)),
        on_time=Count("id", filter=Q(paid_at__isnull=False, paid_at__lte=F("due_at"))),
        unpaid=Count("id", filter=Q(paid_at__isnull=True)),
        paid_sats=Sum("amount_sats", filter=Q(paid_at__isnull=False)),
    )
    totals["late"] = totals["paid"] - totals["on_time"]
    totals["on_time_share"] = round(100 * totals["on_time"] / totals["due"]) if totals["due"] else None

    return {
        "score": score,
        "band": band,
        "updated_at": member.credit_score_updated_at or (latest[0] if latest else None),
        "model_version": meta.get("model_version"),
        "confidence": meta.get("confidence"),
        "fallback": meta.get("fallback"),
        "reasons": reason_texts(meta.get("reasons")),
        "history": history,
        "sparkline": sparkline(values),
        "window_days": WINDOW_DAYS,
        "features": features,
        "punctuality_pct": round(100 * features["punctuality_rate"]),
        "contributed": sats_and_xof(features["tontine_contributions"]),
        "contributions": totals,
        "paid_all_time": sats_and_xof(totals["paid_sats"] or 0),
        "recent_contributions": list(
            models.Contribution.objects.filter(member=member).select_related("tontine").order_by("-due_at")[:PAGE_ROWS]
        ),
        "open_alerts": [
            _alert_row(alert)
            for alert in AIAlert.objects.filter(user=member, resolved=False).order_by("-created_at")[:PAGE_ROWS]
        ],
        "cases": list(Case.objects.filter(member=member).select_related("owner").order_by("-opened_at")[:CASES_SHOWN]),
        "holds": [
            _with_amount(p)
            for p in models.Payment.objects.filter(member=member, status=models.Payment.Status.HELD).order_by(
                "created_at"
            )[:PAGE_ROWS]
        ],
        "endorsements_given": list(
            models.Endorsement.objects.filter(endorser=member)
            .select_related("endorsee")
            .order_by("-created_at")[:PAGE_ROWS]
        ),
        "endorsements_received": list(
            models.Endorsement.objects.filter(endorsee=member)
            .select_related("endorser")
            .order_by("-created_at")[:PAGE_ROWS]
        ),
        "endorsements_given_count": models.Endorsement.objects.filter(endorser=member).count(),
        "endorsements_received_count": models.Endorsement.objects.filter(endorsee=member).count(),
    }
