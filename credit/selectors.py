"""Reads for credit: who to score, open offers, unfinished scoring runs, model health."""

from __future__ import annotations

import uuid
from datetime import datetime

import numpy as np
from django.db.models import Q

from alerts.models import AIAlert, AIMetric, AlertType
from credit.scoring import MODEL_NAME, REASONS, RULES_VERSION, bands_of
from sunusav.ml.registry import registry
from sunusav.models import Member

SCORE_RUN_KEY = "credit_score_run"


def _stale(cutoff: datetime) -> Q:
    return Q(credit_score_updated_at__isnull=True) | Q(credit_score_updated_at__lt=cutoff)


def members_to_score(
    *, cutoff: datetime, ids: list[uuid.UUID] | None = None, after: uuid.UUID | None = None, limit: int
) -> list[tuple[uuid.UUID, object]]:
    """Return up to `limit` (id, previous score) of members not scored since `cutoff`, by id after `after`."""
    qs = Member.objects.filter(_stale(cutoff))
    if ids is not None:
        qs = qs.filter(id__in=ids)
    if after is not None:
        qs = qs.filter(id__gt=after)
    return list(qs.order_by("id").values_list("id", "credit_score")[:limit])


def members_to_score_count(*, cutoff: datetime, ids: list[uuid.UUID] | None = None) -> int:
    """Return how many members are not scored since `cutoff`."""
    qs = Member.objects.filter(_stale(cutoff))
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return qs.count()


def open_credit_offer(*, member: Member) -> AIAlert | None:
    """Return the member's open credit offer, if any."""
    return AIAlert.objects.filter(user=member, alert_type=AlertType.CREDIT_OFFER, resolved=False).first()


def score_run_unfinished(*, selection: str) -> AIMetric | None:
    """Return the latest unfinished `score_users` run of this selection, if any."""
    return (
        AIMetric.objects.filter(metric_key=SCORE_RUN_KEY, meta__status="running", meta__selection=selection)
        .order_by("-created_at")
        .first()
    )


def credit_health() -> dict:
    """Return the active model's version and age, `ok` or `degraded` (rule fallback serving)."""
    status = registry.status(MODEL_NAME)
    return {
        "status": status["status"],
        "model_version": status["model_version"] or RULES_VERSION,
        "fallback": status["model_version"] is None,
        "trained_at": status.get("trained_at"),
        "age_seconds": status.get("age_seconds"),
        "active_version": status.get("active_version", status["model_version"]),
        "error": status["error"],
    }


_REASON_TEXTS = {code: (feature, fr, en) for feature, (code, fr, en) in REASONS.items()}


def member_score(*, member_id: uuid.UUID) -> dict | None:
    """Return a member's stored score, band, update time, reasons and model version (None: unknown member).

    Score and time come from the member row; reasons, confidence and model
    version from the latest `credit_score` metric (the decision that set it).
    """
    row = Member.objects.filter(pk=member_id).values("id", "credit_score", "credit_score_updated_at").first()
    if row is None:
        return None
    score = None if row["credit_score"] is None else float(row["credit_score"])
    latest = (
        AIMetric.objects.filter(user_id=member_id, metric_key="credit_score")
        .order_by("-created_at")
        .values_list("meta", flat=True)
        .first()
    ) or {}
    reasons = []
    for code in latest.get("reasons") or []:
        feature, fr, en = _REASON_TEXTS.get(code, ("", "", ""))
        reasons.append({"code": code, "feature": feature, "fr": fr, "en": en})
    return {
        "member_id": row["id"],
        "score": score,
        "band": None if score is None else bands_of(np.array([score]))[0],
        "updated_at": row["credit_score_updated_at"],
        "reasons": reasons,
        "confidence": latest.get("confidence"),
        "model_version": latest.get("model_version"),
        "fallback": latest.get("fallback"),
    }
