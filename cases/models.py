"""Cases: one member's fraud alerts and holds (or one tontine's liquidity alerts) as one piece of work.

An analyst owns a case, works it through new → assigned → (escalated) → closed
with one outcome, and the decision decides every item at once. A case closed
as confirmed fraud may lead to a suspicious-transaction report for CENTIF
(`SuspiciousActivityReport`), drafted by the analyst and approved by a second
user holding `cases.approve_report` (four eyes).

Every lifecycle step is audited in the analysts' trail (`sunusav.AnalystAction`,
target type "case" or "report"), in the transaction that makes it.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models import AIAlert
from sunusav.models import Member, Payment, Tontine


class Case(models.Model):
    """One piece of an analyst's work: the open items of one member (fraud) or one tontine (liquidity)."""

    class Kind(models.TextChoices):
        FRAUD = "fraud", _("fraude")
        LIQUIDITY = "liquidity", _("liquidité")

    class Status(models.TextChoices):
        NEW = "new", _("nouveau")
        ASSIGNED = "assigned", _("attribué")
        ESCALATED = "escalated", _("escaladé")
        PENDING_APPROVAL = "pending_approval", _("en attente d'approbation")
        CLOSED = "closed", _("clos")

    class Severity(models.IntegerChoices):
        # Only ever rises while the case is open (the worst item sets it).
        LOW = 1, _("faible")
        MEDIUM = 2, _("moyenne")
        HIGH = 3, _("élevée")
        CRITICAL = 4, _("critique")

    class Outcome(models.TextChoices):
        CONFIRMED_FRAUD = "confirmed_fraud", _("fraude confirmée")
        FALSE_POSITIVE = "false_positive", _("fausse alerte")
        LIQUIDITY_HANDLED = "liquidity_handled", _("liquidité traitée")

    OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.ESCALATED, Status.PENDING_APPROVAL)

    id = models.UUIDField(_("identifiant"), primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("type de dossier"), max_length=10, choices=Kind.choices)
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, null=True, blank=True, related_name="cases", verbose_name=_("membre")
    )
    tontine = models.ForeignKey(
        Tontine, on_delete=models.CASCADE, null=True, blank=True, related_name="cases", verbose_name=_("tontine")
    )
    status = models.CharField(_("statut"), max_length=16, choices=Status.choices, default=Status.NEW)
    severity = models.PositiveSmallIntegerField(_("gravité"), choices=Severity.choices, default=Severity.LOW)
    # Sum over the items still at stake (held payments, or the tontine's shortfall), in sats.
    amount_sats = models.BigIntegerField(_("montant en jeu (sats)"), default=0)
    item_count = models.PositiveIntegerField(_("éléments"), default=0)
    # The reason code of the worst item, shown as a short label in the queue.
    top_reason = models.CharField(_("motif principal"), max_length=64, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_cases",
        verbose_name=_("responsable"),
    )
    opened_at = models.DateTimeField(_("ouvert le"), default=timezone.now)
    # The SLA: CASE_SLA_HOURS[kind][severity] after opening; only moves earlier as severity rises.
    due_at = models.DateTimeField(_("échéance"))
    closed_at = models.DateTimeField(_("clos le"), null=True, blank=True)
    outcome = models.CharField(_("issue"), max_length=20, choices=Outcome.choices, blank=True)
    decision_note = models.TextField(_("motivation de la décision"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("décidé par"),
    )
    # Four eyes: a decision waiting for a second user's approval (status pending_approval).
    proposed_outcome = models.CharField(_("issue proposée"), max_length=20, choices=Outcome.choices, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("proposé par"),
    )
    # Per-item exceptions of the proposed decision: {alert id: outcome}.
    proposed_exceptions = models.JSONField(_("exceptions proposées"), default=dict, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approuvé par"),
    )

    class Meta:
        db_table = "cases"
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        permissions = [
            ("decide_case", _("Peut prendre en charge et décider un dossier")),
            ("approve_case", _("Peut approuver une décision de dossier (quatre yeux)")),
        ]
        constraints = [
            # Grouping holds in the database itself: one open case per member (fraud) and per tontine (liquidity).
            models.UniqueConstraint(
                fields=["kind", "member"],
                condition=~models.Q(status="closed") & models.Q(member__isnull=False),
                name="cases_one_open_per_member",
            ),
            models.UniqueConstraint(
                fields=["kind", "tontine"],
                condition=~models.Q(status="closed") & models.Q(tontine__isnull=False),
                name="cases_one_open_per_tontine",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="fraud", member__isnull=False) | models.Q(kind="liquidity", tontine__isnull=False)
                ),
                name="cases_subject_fits_kind",
            ),
        ]
        indexes = [
            # The queue: open cases, worst and oldest first; "Mes dossiers"; SLA breaches.
            models.Index(fields=["status", "-severity", "opened_at"], name="cases_queue_order"),
            models.Index(fields=["owner", "status", "due_at"], name="cases_owner_status_due"),
            models.Index(fields=["status", "due_at"], name="cases_status_due"),
            models.Index(fields=["closed_at"], name="cases_closed_at"),
            # Open cases only (a few thousand beside ~100,000 closed): the queue's page in its order
            # (-pk last, as the admin adds it), and the open counts and "late" filter by due time.
            models.Index(
                fields=["-severity", "opened_at", "-id"],
                condition=~models.Q(status="closed"),
                name="cases_open_queue",
            ),
            models.Index(fields=["due_at"], condition=~models.Q(status="closed"), name="cases_open_due"),
        ]

    def __str__(self):
        subject = self.member or self.tontine
        return f"{self.get_kind_display()} · {subject}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED


class CaseItem(models.Model):
    """An alert in a case, with the payment it holds (fraud) when there is one."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="items", verbose_name=_("dossier"))
    alert = models.OneToOneField(AIAlert, on_delete=models.CASCADE, related_name="case_item", verbose_name=_("alerte"))
    payment = models.ForeignKey(
        Payment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="case_items",
        verbose_name=_("paiement"),
    )
    severity = models.PositiveSmallIntegerField(_("gravité"), choices=Case.Severity.choices)
    amount_sats = models.BigIntegerField(_("montant (sats)"), default=0)
    added_at = models.DateTimeField(_("ajouté le"), default=timezone.now)

    class Meta:
        db_table = "case_items"
        verbose_name = _("élément de dossier")
        verbose_name_plural = _("éléments de dossier")
        indexes = [models.Index(fields=["case", "added_at"], name="case_items_case_added")]

    def __str__(self):
        return f"{self.case_id} · {self.alert_id}"


class CaseComment(models.Model):
    """One message in a case's comments thread."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="comments", verbose_name=_("dossier"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("auteur")
    )
    body = models.TextField(_("commentaire"))
    created_at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        db_table = "case_comments"
        verbose_name = _("commentaire")
        verbose_name_plural = _("commentaires")
        ordering = ["created_at"]
        indexes = [models.Index(fields=["case", "created_at"], name="case_comments_case_created")]

    def __str__(self):
        return f"{self.author} · {self.created_at:%Y-%m-%d %H:%M}"


class SuspiciousActivityReport(models.Model):
    """A "déclaration d'opération suspecte" to CENTIF, drafted from a case closed as confirmed fraud.

    `facts` is the snapshot taken at drafting (member, operations, typology,
    case history) that both the PDF and the JSON are made from, so what was
    approved is exactly what is sent. The member is never told of a report.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("brouillon")
        APPROVED = "approved", _("approuvée")
        SENT = "sent", _("transmise")

    id = models.UUIDField(_("identifiant"), primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reports", verbose_name=_("dossier"))
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    typology = models.CharField(_("typologie"), max_length=64)
    narrative = models.TextField(_("exposé des faits"))
    facts = models.JSONField(_("faits"), default=dict)
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("rédigée par")
    )
    drafted_at = models.DateTimeField(_("rédigée le"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approuvée par"),
    )
    approved_at = models.DateTimeField(_("approuvée le"), null=True, blank=True)
    sent_at = models.DateTimeField(_("transmise le"), null=True, blank=True)
    centif_reference = models.CharField(_("référence CENTIF"), max_length=64, blank=True)

    class Meta:
        db_table = "suspicious_activity_reports"
        verbose_name = _("déclaration d'opération suspecte")
        verbose_name_plural = _("déclarations d'opérations suspectes")
        permissions = [("approve_report", _("Peut approuver et transmettre une déclaration à la CENTIF"))]
        constraints = [
            # One report in progress per case; a sent one stays, a new one may follow.
            models.UniqueConstraint(
                fields=["case"], condition=~models.Q(status="sent"), name="sar_one_unsent_per_case"
            ),
        ]
        indexes = [models.Index(fields=["status", "drafted_at"], name="sar_status_drafted")]

    def __str__(self):
        return f"DOS {self.case_id} · {self.get_status_display()}"
