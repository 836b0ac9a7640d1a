"""Writes of alerts and metrics: every model decision leaves a trace here."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.messages import render
from alerts.models import AIAlert, AIMetric, AlertType, Notification
from sunusav import metrics
from sunusav.analyst import action_record
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


def metrics_record_bulk(*, rows: list[AIMetric], batch_size: int = 2000) -> list[AIMetric]:
    """Write many `ai_metrics` rows in a few statements (batch scoring)."""
    return AIMetric.objects.bulk_create(rows, batch_size=batch_size)


def alert_create(*, alert_type: str, payload: dict, member: Member | None = None, member_id=None) -> AIAlert:
    """Open an alert of one of the three seed types (about a member, or none)."""
    if alert_type not in AlertType.values:
        raise ValueError(f"unknown alert type {alert_type!r}")
    alert = AIAlert.objects.create(
        user_id=member.pk if member is not None else member_id, alert_type=alert_type, payload=payload
    )
    # Counted once the alert exists for good (a lost uniqueness race rolls it back).
    transaction.on_commit(lambda: metrics.count_alert_opened(alert_type))
    logger.info(
        "alert.opened",
        extra={
            "alert_id": str(alert.pk),
            "alert_type": alert_type,
            "member_id": str(alert.user_id) if alert.user_id else None,
            "payment_id": (payload or {}).get("payment_id"),
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
        payload = alert.payload or {}
        self.alert = alert
        self.resolved_by = payload.get("resolved_by") or ""
        self.resolved_at = alert.resolved_at
        super().__init__(f"alert {alert.pk} already resolved by {self.resolved_by or '?'}")


class InvalidResolution(ValueError):
    """An outcome that does not fit the alert's type, or a missing note."""


def _actor_label(actor) -> str:
    # Logs and metrics name the staff account by id, never by name.
    if actor is not None and getattr(actor, "is_authenticated", False):
        return f"user:{actor.pk}"
    return "system"


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
    payload = dict(locked.payload or {})
    before = {"resolved": False, "resolved_at": None, "outcome": payload.get("outcome")}
    resolved_by = actor.get_username() if actor is not None and getattr(actor, "is_authenticated", False) else ""
    payload.update({"outcome": str(outcome), "resolved_by": resolved_by, "resolution_note": note[:2000]})
    locked.payload = payload
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
    origin = payload.get("request_id")
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
    transaction.on_commit(lambda: metrics.count_alert_resolved(locked.alert_type))
    logger.info(
        "alert.resolved",
        extra={
            "alert_id": str(locked.pk),
            "alert_type": locked.alert_type,
            "outcome": str(outcome),
            "actor": actor_label,
            "origin_request_id": origin,
            "payment_id": payload.get("payment_id"),
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
    from alerts.senders import get_sender

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
