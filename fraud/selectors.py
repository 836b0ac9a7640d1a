"""Reads for fraud: payment histories, features of stored payments, labels, existing alerts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db.models import TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from alerts import payloads
from alerts.models import AIAlert, AlertType
from alerts.payloads import AlertPayload
from fraud.detectors import MODEL_NAME
from fraud.features import HISTORY_WINDOW, features_from_history, history_from_rows
from sunusav.ml.registry import registry
from sunusav.models import Member, Payment

_HISTORY_FIELDS = ("id", "member_id", "created_at", "kind", "device_id", "location", "amount_sats")
_CHUNK = 5000


def payment_features(*, payments: list[Payment]) -> np.ndarray:
    """Return the five features (n, 5) of stored payments, in the given order.

    One query fetches every involved member's payments from `HISTORY_WINDOW`
    before the earliest payment up to the latest one.
    """
    if not payments:
        return np.zeros((0, 5))
    since = min(p.created_at for p in payments) - HISTORY_WINDOW
    until = max(p.created_at for p in payments)
    rows = list(
        Payment.objects.filter(
            member_id__in={p.member_id for p in payments}, created_at__gte=since, created_at__lte=until
        ).values_list(*_HISTORY_FIELDS)
    )
    history = history_from_rows(rows)
    features = features_from_history(history)
    position = {str(row[0]): i for i, row in enumerate(rows)}
    return features[[position[str(p.id)] for p in payments]]


def payment_features_at(*, payment: Payment, at: datetime) -> np.ndarray:
    """Return the five features (5,) of a stored payment as if it had happened at `at`.

    The server's view of a payment event (`at` = when the event arrived): the
    member's other payments up to `at` count at their own times, whatever the
    event's own `created_at` says, so a caller cannot move a payment away
    from the history around it (fraud.services.payment_event_process).
    """
    rows = list(
        Payment.objects.filter(member_id=payment.member_id, created_at__gte=at - HISTORY_WINDOW, created_at__lte=at)
        .exclude(pk=payment.pk)
        .values_list(*_HISTORY_FIELDS)
    )
    own = (payment.pk, payment.member_id, at, payment.kind, payment.device_id, payment.location, payment.amount_sats)
    return features_from_history(history_from_rows([*rows, own]))[-1]


@dataclass
class LabeledPayments:
    """Every stored payment's features, with labels where known."""

    payment_ids: np.ndarray
    member_ids: np.ndarray
    features: np.ndarray
    labels: np.ndarray  # 1.0 fraud, 0.0 not fraud, nan unknown
    patterns: np.ndarray
    analyst_labels: int
    times: np.ndarray | None = None  # created_at, seconds since the epoch (float64)


def labeled_payments() -> LabeledPayments:
    """Return all payments' features and labels for training.

    A label comes from the demo world's ground truth (`is_fraud_label`), and
    is overridden by an analyst's verdict on a resolved `fraud_suspect` alert
    (`payload.outcome` = `confirmed_fraud` or `false_positive`).
    """
    rows = list(
        Payment.objects.order_by().values_list(*_HISTORY_FIELDS, "is_fraud_label", "fraud_pattern").iterator(_CHUNK)
    )
    history = history_from_rows(row[:7] for row in rows)
    features = features_from_history(history)
    labels = np.array([np.nan if row[7] is None else float(row[7]) for row in rows], dtype=np.float64)
    position = {str(row[0]): i for i, row in enumerate(rows)}
    verdicts = analyst_verdicts()
    for payment_id, is_fraud in verdicts.items():
        if payment_id in position:
            labels[position[payment_id]] = float(is_fraud)
    return LabeledPayments(
        payment_ids=np.array([str(row[0]) for row in rows], dtype=object),
        member_ids=np.array([str(row[1]) for row in rows], dtype=object),
        features=features,
        labels=labels,
        patterns=np.array([row[8] or "" for row in rows], dtype=object),
        analyst_labels=len(verdicts),
        times=np.fromiter((row[2].timestamp() for row in rows), dtype=np.float64, count=len(rows)),
    )


def analyst_verdicts() -> dict[str, bool]:
    """Return {payment_id: is_fraud} from resolved fraud alerts that carry a person's outcome.

    An alert resolved by the system (an expired hold taking its configured
    default: `resolved_by` empty) carries no one's judgement: counting it
    would feed the model's own holds back to it as fraud labels.
    """
    verdicts = {}
    alerts = AIAlert.objects.filter(alert_type=AlertType.FRAUD_SUSPECT, resolved=True).values_list("payload", flat=True)
    for payload in alerts.iterator(_CHUNK):
        payload = AlertPayload.of(payload)
        outcome, payment_id = payload.outcome, payload.payment_id
        if payload.resolved_by_the_system:
            continue
        if payment_id and outcome in {"confirmed_fraud", "false_positive"}:
            verdicts[str(payment_id)] = outcome == "confirmed_fraud"
    return verdicts


def fraud_alert_for_payment(*, payment_id) -> AIAlert | None:
    """Return the fraud alert already raised for a payment, if any."""
    # Cast: a bare KeyTextTransform compares as JSON on SQLite; on PostgreSQL
    # text::text is a no-op, so the unique index on `payload->>'payment_id'` serves it.
    return (
        AIAlert.objects.annotate(alert_payment_id=Cast(KeyTextTransform(payloads.PAYMENT_ID, "payload"), TextField()))
        .filter(alert_type=AlertType.FRAUD_SUSPECT, alert_payment_id=str(payment_id))
        .first()
    )


def members_by_reference(*, references: Iterable[str]) -> dict[str, Member]:
    """Return the members whose id is among the backend's `user_id` strings (others are unknown)."""
    ids = {}
    for reference in references:
        try:
            ids[uuid.UUID(reference)] = reference
        except (ValueError, AttributeError, TypeError):
            continue
    if not ids:
        return {}
    return {ids[m.pk]: m for m in Member.objects.filter(pk__in=list(ids))}


def payments_by_id(*, payment_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Payment]:
    """Return stored payments by id (missing ones are absent)."""
    return Payment.objects.select_related("member").in_bulk(list(set(payment_ids)))


def fraud_health() -> dict:
    """Return the fraud model's state, thresholds and default action, for /api/fraud/health."""
    state = registry.status(MODEL_NAME)
    loaded = registry.get_active(MODEL_NAME)
    return {
        "status": state["status"],
        "model_version": state.get("model_version"),
        "trained_at": state.get("trained_at"),
        "age_seconds": state.get("age_seconds"),
        "error": state.get("error"),
        "serving": loaded.model.serving if loaded else None,
        "thresholds": {"review": settings.FRAUD_REVIEW_THRESHOLD, "hold": settings.FRAUD_HOLD_THRESHOLD},
        "default_action": settings.FRAUD_DEFAULT_ACTION,
    }
