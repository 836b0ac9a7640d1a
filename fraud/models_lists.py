"""Allow, deny and watch lists that rules read (`device in list("appareils_bloques")`), issue 15.

A list holds one kind of subject (`fraud.rules_engine.LIST_SUBJECTS`):
members, devices, locations, phone numbers (stored as the same keyed hash
as everywhere, `sunusav.hashing.phone_hash`, never in clear) or Lightning
node public keys. An entry has a reason and an optional expiry; only active
entries (no expiry, or an expiry still ahead) count. Changes go through
`fraud.list_services` (audited).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RuleList(models.Model):
    class Kind(models.TextChoices):
        ALLOW = "allow", _("liste d'autorisation")
        DENY = "deny", _("liste de blocage")
        WATCH = "watch", _("liste de surveillance")

    class Subject(models.TextChoices):
        MEMBER = "member", _("membres")
        DEVICE = "device", _("appareils")
        LOCATION = "location", _("lieux")
        PHONE = "phone_hash", _("téléphones (empreintes)")
        NODE = "node_pubkey", _("nœuds Lightning (clés publiques)")

    name = models.SlugField(
        _("nom"), max_length=64, unique=True, help_text=_('Le nom que lisent les règles : device in list("ce_nom").')
    )
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices)
    subject = models.CharField(_("contenu"), max_length=16, choices=Subject.choices)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)

    class Meta:
        db_table = "fraud_lists"
        verbose_name = _("liste de règles")
        verbose_name_plural = _("listes de règles")
        ordering = ["name"]

    def __str__(self):
        return self.name


class RuleListEntry(models.Model):
    rule_list = models.ForeignKey(RuleList, on_delete=models.CASCADE, related_name="entries", verbose_name=_("liste"))
    value = models.CharField(
        _("valeur"), max_length=128, help_text=_("Pour un téléphone : son empreinte, jamais le numéro.")
    )
    reason = models.CharField(_("motif"), max_length=400)
    expires_at = models.DateTimeField(_("expire le"), null=True, blank=True)
    created_at = models.DateTimeField(_("ajoutée le"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ajoutée par"),
    )

    class Meta:
        db_table = "fraud_list_entries"
        verbose_name = _("entrée de liste")
        verbose_name_plural = _("entrées de liste")
        ordering = ["rule_list", "value"]
        constraints = [models.UniqueConstraint(fields=["rule_list", "value"], name="list_value_once")]

    def __str__(self):
        return self.value

    @staticmethod
    def active_q(now=None) -> Q:
        return Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now())


class RuleSuppression(models.Model):
    """An analyst snoozes one rule for one member until a date, with a reason (a market vendor's bursts).

    The check then does not count the rule for that member and records that it
    would have fired (`rules_suppressed` in the audit row).
    """

    member_ref = models.CharField(
        _("membre"), max_length=64, help_text=_("L'identifiant du membre, tel que les contrôles le reçoivent.")
    )
    rule_id = models.SlugField(_("identifiant de règle"), max_length=64)
    until = models.DateTimeField(_("jusqu'au"))
    reason = models.CharField(_("motif"), max_length=400)
    created_at = models.DateTimeField(_("ajoutée le"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ajoutée par"),
    )

    class Meta:
        db_table = "fraud_rule_suppressions"
        verbose_name = _("règle mise en sourdine")
        verbose_name_plural = _("règles mises en sourdine")
        ordering = ["-until"]

    def __str__(self):
        return f"{self.rule_id} / {self.member_ref}"
