"""Reads for fraud: payment histories, features of stored payments, labels, existing alerts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db.models import BigIntegerField, Func, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from alerts import payloads
from alerts.models import AIAlert, AlertType
from alerts.payloads import AlertPayload
from fraud.detectors import MODEL_NAME
from fraud.features import (
    HISTORY_WINDOW,
    HistoryCodes,
    HistoryColumns,
    features_from_history,
    history_from_rows,
)
from fraud.member_context import context_from_history
from sunusav.ml.registry import registry
from sunusav.models import Member, Payment

_HISTORY_FIELDS = ("id", "member_id", "created_at", "kind", "device_id", "location", "amount_sats")
_CHUNK = 5000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


class EpochMicros(Func):
    """A datetime column as int64 microseconds since the Unix epoch, computed by the database.

    Loading a million datetimes through the driver and Django's time-zone
    handling costs ~10 µs each; the integer is what the features need.
    """

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds from julianday (exact once
        # rounded), the microseconds from the text.
        template = (
            "(CAST(round((julianday(substr(%(expressions)s, 1, 19)) - 2440587.5) * 86400) AS INTEGER) * 1000000"
            " + CAST(substr(%(expressions)s, 21, 6) AS INTEGER))"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def epoch_micros(value: datetime) -> int:
    """A datetime as microseconds since the Unix epoch (what `EpochMicros` computes in the database)."""
    if value.tzinfo is None:  # USE_TZ off: stored as given
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def payment_history_blocks(*, since: datetime, until: datetime, block: int, codes: HistoryCodes):
    """Yield the payments of [since, until] in (created_at, id) order as `HistoryColumns` of `block` rows.

    One query for the whole range (a server-side cursor on PostgreSQL): each
    row is read once. Members, devices and places are coded in `codes`.
    """
    rows = (
        Payment.objects.filter(created_at__gte=since, created_at__lte=until)
        .order_by("created_at", "id")
        .values_list("id", "member_id", EpochMicros("created_at"), "kind", "device_id", "location", "amount_sats")
        .iterator(chunk_size=block)
    )
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == block:
            yield _history_columns(batch, codes)
            batch = []
    if batch:
        yield _history_columns(batch, codes)


def _history_columns(rows: list[tuple], codes: HistoryCodes) -> HistoryColumns:
    ids, members, micros, kinds, devices, locations, amounts = zip(*rows, strict=True)
    # Ids as the UUIDs' integers: a million UUID objects kept alive make every garbage collection walk them.
    out = np.empty(len(ids), dtype=object)
    out[:] = [i.int for i in ids]
    return HistoryColumns(
        ids=out,
        member=codes.encode("members", members),
        micros=np.array(micros, dtype=np.int64),
        is_invoice=np.array(kinds, dtype=object) == Payment.Kind.INVOICE,
        device=codes.encode("devices", devices),
        location=codes.encode("locations", locations),
        amount_sats=np.array(amounts, dtype=np.int64),
    )


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
    # The demo world's honest segment of each payment (`Payment.segment`, "" when none): measurement only.
    segments: np.ndarray | None = None
    # The member's own baseline before each payment (fraud.member_context.CONTEXT columns).
    context: np.ndarray | None = None


def labeled_payments() -> LabeledPayments:
    """Return all payments' features and labels for training.

    A label comes from the demo world's ground truth (`is_fraud_label`), and
    is overridden by an analyst's verdict on a resolved `fraud_suspect` alert
    (`payload.outcome` = `confirmed_fraud` or `false_positive`).
    """
    rows = list(
        Payment.objects.order_by()
        .values_list(*_HISTORY_FIELDS, "is_fraud_label", "fraud_pattern", "segment")
        .iterator(_CHUNK)
    )
    history = history_from_rows(row[:7] for row in rows)
    features = features_from_history(history)
    context = context_from_history(history, np.array([epoch_micros(row[2]) for row in rows], dtype=np.int64))
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
        segments=np.array([row[9] or "" for row in rows], dtype=object),
        context=context,
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


def member_ids_by_reference(*, references: Iterable[str]) -> dict[str, uuid.UUID]:
    """Return the stored member ids among the backend's `user_id` strings (others are unknown).

    Ids only, not members: a check needs no more, and building Member rows
    cost about a quarter of a millisecond a check (profiled).
    """
    ids = {}
    for reference in references:
        try:
            ids[uuid.UUID(reference)] = reference
        except (ValueError, AttributeError, TypeError):
            continue
    if not ids:
        return {}
    return {ids[pk]: pk for pk in Member.objects.filter(pk__in=list(ids)).values_list("pk", flat=True)}


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
