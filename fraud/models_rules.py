"""Ruleset versions and their rules (issue 15).

A version goes draft -> submitted -> approved (by a second risk admin: the
approver changed nothing in it) -> published; at most one version is
published at a time (a partial unique index), the one it replaced becomes
`retired`. A rollback publishes a copy of an earlier published version as a
new version. Only drafts can be edited (`fraud.ruleset_services`).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fraud.rules_engine import EFFECT_ALLOW, EFFECT_HOLD, EFFECT_REVIEW, EFFECT_WEIGHT

# Who holds which permission: sunusav.audit_trail (ANALYST_PERMISSIONS, ADMIN_PERMISSIONS).


class RuleSet(models.Model):
    """One version of the fraud rules."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("brouillon")
        SUBMITTED = "submitted", _("soumise")
        APPROVED = "approved", _("approuvée")
        PUBLISHED = "published", _("publiée")
        RETIRED = "retired", _("remplacée")

    number = models.PositiveIntegerField(_("version"), unique=True)
    status = models.CharField(_("état"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("copiée de")
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("auteur"),
    )
    submitted_at = models.DateTimeField(_("soumise le"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("soumise par"),
    )
    approved_at = models.DateTimeField(_("approuvée le"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approuvée par"),
    )
    published_at = models.DateTimeField(_("publiée le"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("publiée par"),
    )
    # A submitted or approved version may run in shadow on live traffic: its would-be decisions are stored
    # beside the real ones in the checks' audit rows (`ruleset_shadow`), never acted on. One at a time.
    shadow = models.BooleanField(_("en observation"), default=False)
    # The last backtest's report (fraud.backtest), shown on the version's page.
    backtest = models.JSONField(_("rétro-test"), default=dict, blank=True)

    class Meta:
        db_table = "fraud_rulesets"
        verbose_name = _("version des règles de fraude")
        verbose_name_plural = _("versions des règles de fraude")
        ordering = ["-number"]
        permissions = [
            ("approve_ruleset", _("Peut approuver une version de règles écrite par un autre")),
            ("publish_ruleset", _("Peut publier une version de règles approuvée ou revenir à une version publiée")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="published"), name="one_published_ruleset")
        ]

    def __str__(self):
        return _("Règles v%(number)s (%(status)s)") % {"number": self.number, "status": self.get_status_display()}

    @property
    def label(self) -> str:
        """The name the checks' answers and audit rows carry: `ruleset-v<number>`."""
        return f"ruleset-v{self.number}"


class Rule(models.Model):
    """One rule of a version: a stable id, sentences, an expression and its effect."""

    class Effect(models.TextChoices):
        WEIGHT = EFFECT_WEIGHT, _("poids dans le score")
        HOLD = EFFECT_HOLD, _("blocage direct")
        REVIEW = EFFECT_REVIEW, _("revue directe")
        ALLOW = EFFECT_ALLOW, _("acceptation (dérogation)")

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules", verbose_name=_("version"))
    rule_id = models.SlugField(_("identifiant de règle"), max_length=64, help_text=_("Stable d'une version à l'autre."))
    name_fr = models.CharField(_("nom (français)"), max_length=200)
    name_en = models.CharField(_("nom (anglais)"), max_length=200, blank=True)
    reason_fr = models.CharField(_("motif (français)"), max_length=400, blank=True)
    reason_en = models.CharField(_("motif (anglais)"), max_length=400, blank=True)
    expression = models.TextField(_("expression"))
    effect = models.CharField(_("effet"), max_length=16, choices=Effect.choices, default=Effect.WEIGHT)
    weight = models.FloatField(_("poids"), default=0.0)
    priority = models.IntegerField(_("priorité"), default=100, help_text=_("Les plus petites d'abord."))
    enabled = models.BooleanField(_("active"), default=True)

    class Meta:
        db_table = "fraud_rules"
        verbose_name = _("règle de fraude")
        verbose_name_plural = _("règles de fraude")
        ordering = ["priority", "rule_id"]
        constraints = [models.UniqueConstraint(fields=["ruleset", "rule_id"], name="rule_id_once_per_ruleset")]

    def __str__(self):
        return self.rule_id

    SPEC_FIELDS = (
        "rule_id",
        "name_fr",
        "name_en",
        "reason_fr",
        "reason_en",
        "expression",
        "effect",
        "weight",
        "priority",
        "enabled",
    )

    def spec(self) -> dict:
        """The rule as `fraud.rules_engine.compile_rule` takes it."""
        return {name: getattr(self, name) for name in self.SPEC_FIELDS}
