"""The seed's `ai_alerts` and `ai_metrics` tables, column for column.

Both keep exactly the seed's columns, types and defaults so the service can be
pointed at SunuSàv's existing PostgreSQL. Anything the product adds around them
(resolution audit, notifications) lives in tables of its own.
"""

import uuid

from django.db import models
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from alerts import payloads
from sunusav import presenters
from sunusav.db import DbNow, GenRandomUUID, NumericField
from sunusav.models import Member


class AlertType(models.TextChoices):
    FRAUD_SUSPECT = "fraud_suspect", _("Fraude suspectée")
    CREDIT_OFFER = "credit_offer", _("Offre de crédit")
    LIQUIDITY_SHORT = "liquidity_short", _("Manque de liquidité")


class AIAlert(models.Model):
    """An alert raised by the models for risk analysts to triage (`ai_alerts`)."""

    id = models.UUIDField(
        _("identifiant"), primary_key=True, default=uuid.uuid4, db_default=GenRandomUUID(), editable=False
    )
    user = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_index=False,  # covered by (user, created_at)
        related_name="ai_alerts",
        verbose_name=_("membre"),
    )
    alert_type = models.TextField(_("type d'alerte"), choices=AlertType.choices)
    payload = models.JSONField(_("contenu"), null=True, blank=True)
    # "date de création", not "créée le": the list's filter reads "Par date de création".
    created_at = models.DateTimeField(_("date de création"), default=timezone.now, db_default=DbNow(), null=True)
    resolved = models.BooleanField(_("résolue"), default=False, db_default=False, null=True)
    resolved_at = models.DateTimeField(_("résolue le"), null=True, blank=True)

    class Meta:
        db_table = "ai_alerts"
        permissions = [("resolve_aialert", _("Peut résoudre une alerte"))]
        verbose_name = _("alerte IA")
        verbose_name_plural = _("alertes IA")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(alert_type__in=AlertType.values),
                name="ai_alerts_alert_type_valid",
            ),
            # Idempotency in the database itself, whatever retries happen:
            # never two open credit offers for one member, never two fraud
            # alerts for one payment.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(alert_type="credit_offer", resolved=False),
                name="ai_alerts_one_open_offer",
            ),
            models.UniqueConstraint(
                KeyTextTransform(payloads.PAYMENT_ID, "payload"),
                condition=models.Q(alert_type="fraud_suspect"),
                name="ai_alerts_one_fraud_per_payment",
            ),
            models.UniqueConstraint(
                KeyTextTransform(payloads.TONTINE_ID, "payload"),
                KeyTextTransform(payloads.ROUND, "payload"),
                condition=models.Q(alert_type="liquidity_short"),
                name="ai_alerts_one_liquidity_per_round",
            ),
        ]
        indexes = [
            # Work queues and the seed's `GROUP BY alert_type` monitoring query.
            models.Index(
                fields=["alert_type", "resolved", "created_at"],
                name="ai_alerts_type_res_created",
            ),
            models.Index(fields=["user", "created_at"], name="ai_alerts_user_created"),
            # The analysts' alert queue: open first, newest first (alerts.admin).
            models.Index(fields=["resolved", "-created_at"], name="ai_alerts_queue_order"),
            # Endorsement-ring alerts (about no single member): a case page finds a member's rings here.
            models.Index(
                fields=["-created_at"],
                condition=models.Q(alert_type="fraud_suspect", user__isnull=True),
                name="ai_alerts_rings",
            ),
        ]

    def __str__(self):
        if self.created_at is None:
            return str(self.get_alert_type_display())
        return f"{self.get_alert_type_display()} · {date_format(timezone.localtime(self.created_at), 'SHORT_DATETIME_FORMAT')}"


class AIMetric(models.Model):
    """One audited model decision or measurement (`ai_metrics`)."""

    id = models.UUIDField(
        _("identifiant"), primary_key=True, default=uuid.uuid4, db_default=GenRandomUUID(), editable=False
    )
    user = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_index=False,  # covered by (user, created_at)
        related_name="ai_metrics",
        verbose_name=_("membre"),
    )
    metric_key = models.TextField(_("clé"))
    metric_value = NumericField(_("valeur"), null=True, blank=True)
    meta = models.JSONField(_("détails"), null=True, blank=True)
    created_at = models.DateTimeField(_("date"), default=timezone.now, db_default=DbNow(), null=True)

    class Meta:
        db_table = "ai_metrics"
        verbose_name = _("métrique IA")
        verbose_name_plural = _("métriques IA")
        indexes = [
            models.Index(fields=["metric_key", "created_at"], name="ai_metrics_key_created"),
            models.Index(fields=["user", "created_at"], name="ai_metrics_user_created"),
        ]

    def __str__(self):
        return presenters.label_value(
            presenters.label_of("metric", self.metric_key), presenters.number_text(self.metric_value)
        )


class Notification(models.Model):
    """A member-facing message waiting in the outbox, written with the change it tells of.

    `dedupe_key` names the event (for example `loan_offer:<alert id>`), so a job
    run twice cannot queue the same message twice; the sender is given the
    notification id as an idempotency key so a resend after a crash between
    "sent" and "marked sent" is recognised by the receiver.
    """

    class Kind(models.TextChoices):
        SCORE_CHANGED = "score_changed", _("Score modifié")
        LOAN_OFFER = "loan_offer", _("Offre de prêt")
        PAYMENT_HELD = "payment_held", _("Paiement retenu")
        PAYMENT_RELEASED = "payment_released", _("Paiement libéré")
        # Neutral on purpose: never a word of suspicion or of a report (no tipping-off, docs/CENTIF.md).
        PAYMENT_REJECTED = "payment_rejected", _("Paiement non abouti")

    class Status(models.TextChoices):
        PENDING = "pending", _("à envoyer")
        SENT = "sent", _("envoyée")
        FAILED = "failed", _("abandonnée")

    id = models.UUIDField(_("identifiant"), primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("membre"))
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices)
    dedupe_key = models.CharField(_("clé d'unicité"), max_length=120, unique=True)
    message_fr = models.TextField(_("message (français)"))
    message_en = models.TextField(_("message (anglais)"))
    payload = models.JSONField(_("données"), default=dict, blank=True)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("tentatives"), default=0)
    # A row is due when next_attempt_at has passed; a sender claims it by
    # pushing next_attempt_at forward (a lease), so two workers never send it
    # at once and a crashed worker's claim simply expires.
    next_attempt_at = models.DateTimeField(_("prochaine tentative"), default=timezone.now)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)
    sent_at = models.DateTimeField(_("envoyée le"), null=True, blank=True)

    class Meta:
        db_table = "notifications_outbox"
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="outbox_pending_due",
            ),
            models.Index(fields=["member", "created_at"], name="outbox_member_created"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.member_id}"
