"""Writes of alerts and metrics: every model decision leaves a trace here.

Two writers of `ai_metrics`: `metric_record` (the ORM) for ordinary, one-off
rows, and `metrics_insert` for the hot path (see its section below).
"""

from __future__ import annotations

import io
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts import payloads
from alerts.messages import render
from alerts.models import AIAlert, AIMetric, AlertType, Notification
from alerts.payloads import AlertPayload
from alerts.senders import get_sender
from sunusav import prometheus
from sunusav.audit_trail import action_record
from sunusav.db import audit_commit_async
from sunusav.logs import current_request_id
from sunusav.models import AnalystAction, Member

logger = logging.getLogger(__name__)


def metric_record(
    *, member: Member | None = None, key: str, value: float | None, meta: dict | None = None, member_id=None
) -> AIMetric:
    """Write one `ai_metrics` row (a score, a check, a measurement)."""
    if member is not None:
        return AIMetric.objects.create(user=member, metric_key=key, metric_value=value, meta=meta or {})
    return AIMetric.objects.create(user_id=member_id, metric_key=key, metric_value=value, meta=meta or {})


def alert_create(*, alert_type: str, payload: dict, member: Member | None = None, member_id=None) -> AIAlert:
    """Open an alert of one of the three seed types (about a member, or none)."""
    if alert_type not in AlertType.values:
        raise ValueError(f"unknown alert type {alert_type!r}")
    alert = AIAlert.objects.create(
        user_id=member.pk if member is not None else member_id, alert_type=alert_type, payload=payload
    )
    # Counted once the alert exists for good (a lost uniqueness race rolls it back).
    transaction.on_commit(lambda: prometheus.count_alert_opened(alert_type))
    logger.info(
        "alert.opened",
        extra={
            "alert_id": str(alert.pk),
            "alert_type": alert_type,
            "member_id": str(alert.user_id) if alert.user_id else None,
            "payment_id": AlertPayload.of(payload).payment_id,
        },
    )
    return alert


ALERT_RESOLVED_KEY = "alert_resolved"


class Outcome(models.TextChoices):
    """What an analyst concluded about an alert; fraud outcomes are training labels."""

    CONFIRMED_FRAUD = "confirmed_fraud", _("Fraude confirmée")
    FALSE_POSITIVE = "false_positive", _("Fausse alerte")
    OFFER_SENT = "offer_sent", _("Offre envoyée")
    OFFER_DECLINED = "offer_declined", _("Offre refusée")
    LIQUIDITY_HANDLED = "liquidity_handled", _("Liquidité traitée")


# The outcomes that make sense for each alert type (fraud training reads
# `payload.outcome` of fraud alerts as the label: fraud.selectors.analyst_verdicts).
OUTCOMES_BY_TYPE: dict[str, tuple[str, ...]] = {
    AlertType.FRAUD_SUSPECT: (Outcome.CONFIRMED_FRAUD, Outcome.FALSE_POSITIVE),
    AlertType.CREDIT_OFFER: (Outcome.OFFER_SENT, Outcome.OFFER_DECLINED),
    AlertType.LIQUIDITY_SHORT: (Outcome.LIQUIDITY_HANDLED,),
}


class AlertAlreadyResolved(Exception):
    """Someone else resolved the alert first: nothing was changed."""

    def __init__(self, alert: AIAlert):
        self.alert = alert
        self.resolved_by = AlertPayload.of(alert).resolved_by
        self.resolved_at = alert.resolved_at
        super().__init__(f"alert {alert.pk} already resolved by {self.resolved_by or '?'}")


class InvalidResolution(ValueError):
    """An outcome that does not fit the alert's type, or a missing note."""


def _actor_label(actor) -> str:
    # Logs and metrics name the staff account by id, never by name.
    if actor is not None and getattr(actor, "is_authenticated", False):
        return f"user:{actor.pk}"
    return "system"


# Hooks of the layers above (registered in their AppConfig.ready, so alerts imports none of them):
# a decider resolves an alert with everything its outcome implies for its type (fraud: the
# payment's hold is rejected or released), a listener hears of every resolution in its
# transaction (cases: the case's totals follow).
_DECIDERS: dict[str, Callable[..., AIAlert]] = {}
_RESOLVED_LISTENERS: list[Callable[[AIAlert], None]] = []


def alert_decider_register(alert_type: str, decider: Callable[..., AIAlert]) -> None:
    """Make `decider(alert=, actor=, outcome=, note=)` the way alerts of `alert_type` are decided."""
    _DECIDERS[alert_type] = decider


def alert_resolved_listener_register(listener: Callable[[AIAlert], None]) -> None:
    """Call `listener(alert)` inside the transaction of every alert resolution (once per listener)."""
    if listener not in _RESOLVED_LISTENERS:
        _RESOLVED_LISTENERS.append(listener)


def alert_decide(*, alert: AIAlert, actor, outcome: str, note: str) -> AIAlert:
    """Resolve an alert and act on what it stands for: a fraud alert's held payment is rejected or released.

    Every place an analyst concludes on an alert (its queue, a case's decision)
    calls this, so the alert and its hold never disagree; raises what
    `alert_resolve` raises.
    """
    decider = _DECIDERS.get(alert.alert_type, alert_resolve)
    return decider(alert=alert, actor=actor, outcome=outcome, note=note)


@transaction.atomic
def alert_resolve(*, alert: AIAlert, actor, outcome: str, note: str) -> AIAlert:
    """Resolve an alert with an outcome and a note, and audit it; raise if it is already resolved.

    `actor` is the Django user who acted (None for the system). The alert row
    is locked, so of two analysts resolving the same alert the second gets
    `AlertAlreadyResolved` and writes nothing. The outcome, who resolved and
    the note go into the alert's payload (the outcome of a fraud alert is the
    next fraud training's label); an `AnalystAction` and an `alert_resolved`
    metric naming the analyst's request and the request that opened the alert
    are written in the same transaction.
    """
    note = (note or "").strip()
    if not note:
        raise InvalidResolution("a note is required")
    locked = AIAlert.objects.select_for_update().get(pk=alert.pk)
    if locked.resolved:
        raise AlertAlreadyResolved(locked)
    if outcome not in OUTCOMES_BY_TYPE.get(locked.alert_type, ()):
        raise InvalidResolution(f"outcome {outcome!r} does not fit a {locked.alert_type} alert")
    before = {"resolved": False, "resolved_at": None, "outcome": AlertPayload.of(locked).outcome}
    resolved_by = actor.get_username() if actor is not None and getattr(actor, "is_authenticated", False) else ""
    locked.payload = payloads.resolved(locked.payload, outcome=outcome, resolved_by=resolved_by, note=note)
    payload = AlertPayload.of(locked)
    locked.resolved = True
    locked.resolved_at = timezone.now()
    locked.save(update_fields=["resolved", "resolved_at", "payload"])
    action_record(
        actor=actor,
        action=AnalystAction.Action.RESOLVE,
        target=locked,
        before=before,
        after={"resolved": True, "resolved_at": locked.resolved_at.isoformat(), "outcome": str(outcome)},
        note=note,
    )
    origin = payload.request_id
    actor_label = _actor_label(actor)
    metric_record(
        member_id=locked.user_id,
        key=ALERT_RESOLVED_KEY,
        value=None,
        meta={
            "alert_id": str(locked.pk),
            "alert_type": locked.alert_type,
            "outcome": str(outcome),
            "actor": actor_label,
            "note": note[:500],
            "request_id": current_request_id(),
            "origin_request_id": origin,
        },
    )
    for listener in _RESOLVED_LISTENERS:
        listener(locked)
    transaction.on_commit(lambda: prometheus.count_alert_resolved(locked.alert_type))
    logger.info(
        "alert.resolved",
        extra={
            "alert_id": str(locked.pk),
            "alert_type": locked.alert_type,
            "outcome": str(outcome),
            "actor": actor_label,
            "origin_request_id": origin,
            "payment_id": payload.payment_id,
        },
    )
    return locked


def notification_enqueue(*, member: Member, kind: str, dedupe_key: str, context: dict) -> Notification:
    """Put a member-facing message in the outbox, once per `dedupe_key`.

    Call it inside the transaction that makes the change it tells of, so the
    message exists exactly when the change does.
    """
    message_fr, message_en = render(kind, context)
    notification, _ = Notification.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "member": member,
            "kind": kind,
            "message_fr": message_fr,
            "message_en": message_en,
            "payload": context,
        },
    )
    return notification


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 10 * 2 ** max(0, attempts - 1)))


def notifications_deliver_due(*, limit: int = 100, sender=None) -> dict[str, int]:
    """Send due outbox notifications; return counts of sent, retried and failed.

    Each row is claimed with a compare-and-set lease on `next_attempt_at`, so
    concurrent workers never send the same row, and a worker that dies
    mid-send leaves a claim that expires and is retried. Rows are committed one
    by one: a crash loses at most the record of one send, which the receiver
    recognises by its idempotency key.
    """
    sender = sender or get_sender()
    counts = {"sent": 0, "retried": 0, "failed": 0}
    now = timezone.now()
    due = list(
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", "next_attempt_at")[:limit]
    )
    lease = timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    for notification_id, due_at in due:
        claimed = Notification.objects.filter(
            id=notification_id, status=Notification.Status.PENDING, next_attempt_at=due_at
        ).update(next_attempt_at=timezone.now() + lease, attempts=F("attempts") + 1)
        if not claimed:
            continue  # another worker took it
        notification = Notification.objects.get(id=notification_id)
        try:
            sender.send(notification)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            if notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
                Notification.objects.filter(id=notification_id).update(
                    status=Notification.Status.FAILED, last_error=error
                )
                counts["failed"] += 1
                logger.error("notification %s abandoned after %s attempts", notification_id, notification.attempts)
            else:
                Notification.objects.filter(id=notification_id).update(
                    next_attempt_at=timezone.now() + _backoff(notification.attempts), last_error=error
                )
                counts["retried"] += 1
            continue
        Notification.objects.filter(id=notification_id).update(
            status=Notification.Status.SENT, sent_at=timezone.now(), last_error=""
        )
        counts["sent"] += 1
    return counts


def retention_purge(*, older_than_days: int | None = None, now=None, chunk: int = 10_000) -> dict[str, int]:
    """Delete metrics, resolved alerts and delivered notifications past their retention.

    `older_than_days` overrides the configured periods of metrics and resolved
    alerts. Open alerts and unsent notifications are never purged. Deletes in
    chunks by primary key so a large purge never holds a long lock on the
    tables the real-time path writes to.
    """
    now = now or timezone.now()
    metrics_days = older_than_days if older_than_days is not None else settings.METRICS_RETENTION_DAYS
    alerts_days = older_than_days if older_than_days is not None else settings.ALERTS_RETENTION_DAYS
    targets = {
        "ai_metrics": AIMetric.objects.filter(created_at__lt=now - timedelta(days=metrics_days)),
        "ai_alerts": AIAlert.objects.filter(resolved=True, resolved_at__lt=now - timedelta(days=alerts_days)),
        "notifications": Notification.objects.filter(
            created_at__lt=now - timedelta(days=settings.NOTIFICATIONS_RETENTION_DAYS)
        ).exclude(status=Notification.Status.PENDING),
    }
    counts = {}
    for name, queryset in targets.items():
        total = 0
        while ids := list(queryset.values_list("pk", flat=True)[:chunk]):
            _, per_model = queryset.model.objects.filter(pk__in=ids).delete()
            total += per_model.get(queryset.model._meta.label, 0)
        counts[name] = total
    return counts


# --- The hot-path writer of audit rows -------------------------------------------------------
# The hot-path writer of `ai_metrics` audit rows: many rows in one statement.
#
# Every real-time decision (credit predict, fraud check) and every batch score
# leaves one `ai_metrics` row. The ORM's bulk_create spends ~0.1 ms a row
# building model instances and preparing JSONField values, more than a whole
# single predict and most of a 1,000-item batch budget, so these rows are
# written here as prepared values:
#
# - ids are time-ordered UUIDs (the UUIDv7 layout, RFC 9562), so audit rows land
#   at the right edge of the primary-key index instead of on random pages
#   (1,000 rows into a 50k-row SQLite table: 32 ms -> 19 ms);
# - meta is encoded once with orjson (~1 us a row; json ~7 us);
# - on PostgreSQL, 50 rows or more go through COPY, several times faster than
#   INSERT for the millions of rows of a full scoring run.
#
# Ordinary, one-off rows use `alerts.services.metric_record` (the ORM).

_COLUMNS = "(id, user_id, metric_key, metric_value, meta, created_at)"
_COPY_FROM = 50


def time_ordered_ids(n: int) -> list[str]:
    """Return n UUIDs in the UUIDv7 layout (RFC 9562): milliseconds, a counter, random bits; as 32 hex digits."""
    millis = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(8 * n), "big")
    mask = (1 << 62) - 1
    head = (millis << 80) | (0x7 << 76)
    return [f"{head | ((k & 0xFFF) << 64) | (0b10 << 62) | ((random_bits >> (64 * k)) & mask):032x}" for k in range(n)]


# One statement that is its own transaction and commits without waiting for the WAL flush:
# set_config(..., true) is SET LOCAL, scoped to the statement's implicit transaction.
_INSERT_ASYNC_COMMIT = (
    f"INSERT INTO ai_metrics {_COLUMNS} SELECT %s::uuid, %s, %s, %s, %s::jsonb, %s"
    " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"
)


def audit_metrics_write(rows: list[tuple[uuid.UUID | None, str, float | None, dict]], *, now=None) -> None:
    """Write audit-only `ai_metrics` rows (decisions that changed nothing else), in as few round trips as possible.

    Such a row may be committed without waiting for the disk (a crash in the
    next ~0.2 s may lose it, never corrupt anything: the durability rule in
    fraud/services.py). Outside any transaction, each of a few rows is one
    INSERT that commits by itself; on PostgreSQL that statement turns
    `synchronous_commit` off for its own transaction, so a decision's audit
    costs one round trip instead of BEGIN, SET LOCAL, INSERT and COMMIT. Many
    rows (COPY), or rows inside a caller's transaction, are written in a
    transaction marked `audit_commit_async`, which does nothing inside an
    outer transaction: that one's writes are durable before the answer.
    """
    if not rows:
        return
    if connection.get_autocommit() and len(rows) < _COPY_FROM:
        metrics_insert(rows, now=now, async_commit=True)
        return
    with transaction.atomic():
        audit_commit_async()
        metrics_insert(rows, now=now)


def metrics_insert(
    rows: list[tuple[uuid.UUID | None, str, float | None, dict]],
    *,
    now: datetime | None = None,
    async_commit: bool = False,
) -> None:
    """Write `ai_metrics` rows (member id, key, value, meta) in one statement, stamped `now`.

    Values are floats (or None) with the precision the caller chose; the
    column's NUMERIC type rounds nothing the callers send. `async_commit`
    (PostgreSQL, autocommit, fewer than 50 rows): each row's statement
    commits without waiting for the disk (`audit_metrics_write`).
    """
    if not rows:
        return
    now = now or timezone.now()
    ids = time_ordered_ids(len(rows))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if len(rows) < _COPY_FROM:
                sql = (
                    _INSERT_ASYNC_COMMIT
                    if async_commit and connection.get_autocommit()
                    else f"INSERT INTO ai_metrics {_COLUMNS} VALUES (%s::uuid, %s, %s, %s, %s::jsonb, %s)"
                )
                params = [
                    (i, m, k, None if v is None else float(v), orjson.dumps(meta).decode(), now)
                    for i, (m, k, v, meta) in zip(ids, rows, strict=True)
                ]
                if len(params) == 1:  # psycopg's executemany enters pipeline mode: more messages for one row
                    cursor.execute(sql, params[0])
                else:
                    cursor.executemany(sql, params)
                return
            stamp = now.isoformat()
            buffer = io.StringIO()
            for i, (m, k, v, meta) in zip(ids, rows, strict=True):
                value = "\\N" if v is None else repr(float(v))
                member = "\\N" if m is None else str(m)
                # COPY's text format reads backslashes as escapes; JSON has no raw tabs or newlines.
                text = orjson.dumps(meta).decode().replace("\\", "\\\\")
                buffer.write(f"{i}\t{member}\t{k}\t{value}\t{text}\t{stamp}\n")
            with cursor.cursor.copy(f"COPY ai_metrics {_COLUMNS} FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            return
        stamp = connection.ops.adapt_datetimefield_value(now)
        params = [
            (i, _hex(m), k, None if v is None else float(v), orjson.dumps(meta).decode(), stamp)
            for i, (m, k, v, meta) in zip(ids, rows, strict=True)
        ]
        sql = f"INSERT INTO ai_metrics {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s)"
        if len(params) == 1:
            cursor.execute(sql, params[0])
        else:
            cursor.executemany(sql, params)


def _hex(member_id) -> str | None:
    # SQLite stores UUIDField as 32 hex digits.
    if member_id is None:
        return None
    return member_id.hex if isinstance(member_id, uuid.UUID) else uuid.UUID(str(member_id)).hex
