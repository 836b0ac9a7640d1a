"""Admin pages of the composition layer: the member risk page, money movements and the analysts' audit trail."""

from __future__ import annotations

import json

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from alerts.models import AIAlert
from backoffice import admin_cases  # noqa: F401  (registers the case queue and case page)
from backoffice.member_page import member_explanation, member_risk
from credit.services import member_rescore
from sunusav import models
from sunusav.admin_utils import CappedCountPaginator, FrenchTitlesMixin, ReadableFieldsMixin, ReadOnlyAdminMixin
from sunusav.csv_export import CsvExportMixin
from sunusav.presenters import data_html, model_label, note_text, number_text, sats_and_xof
from sunusav.search import AccentInsensitiveSearchMixin

RESCORE_MAX = 200


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    raw_id_fields = ["member"]
    ordering = ["position"]


@admin.register(models.Member)
class MemberAdmin(AccentInsensitiveSearchMixin, FrenchTitlesMixin, admin.ModelAdmin):
    """The member risk page: score, history, contributions, alerts, holds, endorsements, rescore."""

    list_display = ["display_name", "region", "credit_score", "credit_score_updated_at", "created_at"]
    list_filter = ["region"]
    search_fields = ["display_name", "=id"]
    readonly_fields = ["id", "phone_hash", "credit_score", "credit_score_updated_at", "created_at"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    actions = ["rescore"]
    change_form_template = "admin/sunusav/member/change_form.html"

    def has_rescore_permission(self, request):
        return request.user.has_perm("sunusav.rescore_member")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["risk"] = member_risk(obj)
            context["explanation"] = member_explanation(obj)
            context["can_rescore"] = self.has_rescore_permission(request)
            context["action_checkbox_name"] = helpers.ACTION_CHECKBOX_NAME
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.action(description=_("Recalculer le score (priorité haute)"), permissions=["rescore"])
    def rescore(self, request, queryset):
        members = list(queryset[: RESCORE_MAX + 1])
        if len(members) > RESCORE_MAX:
            self.message_user(
                request,
                gettext("Trop de membres sélectionnés (%(max)s au plus) : utilisez la commande score_users.")
                % {"max": RESCORE_MAX},
                messages.ERROR,
            )
            return None
        for member in members:
            member_rescore(member=member, actor=request.user)
        self.message_user(
            request,
            ngettext(
                "Nouveau calcul du score demandé pour %(count)d membre (priorité haute).",
                "Nouveau calcul du score demandé pour %(count)d membres (priorité haute).",
                len(members),
            )
            % {"count": len(members)},
            messages.SUCCESS,
        )
        if len(members) == 1 and request.POST.get("_from_page"):
            return HttpResponseRedirect(reverse("admin:sunusav_member_change", args=[members[0].pk]))
        return None


@admin.register(models.Contribution)
class ContributionAdmin(FrenchTitlesMixin, ReadableFieldsMixin, admin.ModelAdmin):
    list_display = ["member", "tontine", "round_number", "amount", "due_at", "paid_at"]
    list_select_related = ["member", "tontine"]
    raw_id_fields = ["member", "tontine"]
    date_hierarchy = "due_at"
    paginator = CappedCountPaginator
    show_full_result_count = False
    readable_fields = {"amount_sats": "amount"}

    @admin.display(description=_("montant"), ordering="amount_sats")
    def amount(self, obj):
        return sats_and_xof(obj.amount_sats)


@admin.register(models.MobileMoneyTransfer)
class MobileMoneyTransferAdmin(FrenchTitlesMixin, ReadableFieldsMixin, admin.ModelAdmin):
    list_display = ["member", "provider", "direction", "amount", "created_at"]
    list_filter = ["provider", "direction"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    readable_fields = {"amount_xof": "amount"}

    @admin.display(description=_("montant (XOF)"), ordering="amount_xof")
    def amount(self, obj):
        return number_text(obj.amount_xof)


@admin.register(models.Endorsement)
class EndorsementAdmin(FrenchTitlesMixin, admin.ModelAdmin):
    list_display = ["endorser", "endorsee", "created_at"]
    list_select_related = ["endorser", "endorsee"]
    raw_id_fields = ["endorser", "endorsee"]
    paginator = CappedCountPaginator
    show_full_result_count = False


# --- The analysts' audit trail ------------------------------------------------------------------


def _model_of(target_type: str):
    return next((m for m in apps.get_models() if m._meta.model_name == target_type), None)


def _admin_url_of(target_type: str, target_id: str) -> str | None:
    model = _model_of(target_type)
    if model is None or target_id == "export":  # a CSV export names the exported list, not one object
        return None
    try:
        return reverse(f"admin:{model._meta.app_label}_{target_type}_change", args=[target_id])
    except NoReverseMatch:
        return None


def target_label(target_type: str, target_id: str) -> str:
    """Return an audited object as a person reads it: "Version de modèle 2", "Paiement 0d782b16…"."""
    if target_type == "modelversion" and not str(target_id).isdigit():
        # A retraining asked while no version served: the action names the model itself.
        return gettext("Modèle de %(name)s") % {"name": model_label(target_id)}
    model = _model_of(target_type)
    kind = capfirst(model._meta.verbose_name) if model is not None else target_type
    ident = str(target_id)
    return f"{kind} {ident[:8]}…" if len(ident) > 12 else f"{kind} {ident}"


# The kinds of objects analysts act on (sunusav.audit_trail.action_record's targets).
AUDITED_MODELS = (AIAlert, models.Payment, models.Member, models.ModelVersion)


class TargetTypeFilter(admin.SimpleListFilter):
    """The audited objects' kinds by their names ("Version de modèle"), never as codes ("modelversion")."""

    title = _("type d'objet")
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        return [(m._meta.model_name, capfirst(m._meta.verbose_name)) for m in AUDITED_MODELS]

    def queryset(self, request, queryset):
        return queryset.filter(target_type=self.value()) if self.value() else queryset


@admin.register(models.AnalystAction)
class AnalystActionAdmin(
    CsvExportMixin, AccentInsensitiveSearchMixin, FrenchTitlesMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """Who did what, when, before and after: read-only for everyone, written only by services."""

    csv_fields = [
        (_("date"), "created_at"),
        (_("analyste"), "actor__username"),
        (_("action"), "action"),
        (_("type d'objet"), "target_type"),
        (_("objet"), "target_id"),
        (_("avant"), "before"),
        (_("après"), "after"),
        (_("note"), "note"),
        (_("identifiant de requête"), "request_id"),
    ]

    list_display = ["created_at", "actor", "action", "target", "short_note", "request_id"]
    # The fields' verbose names make the filters read "Par analyste", "Par date".
    list_filter = ["action", ("actor", admin.RelatedOnlyFieldListFilter), "created_at", TargetTypeFilter]
    list_select_related = ["actor"]
    search_fields = ["=target_id", "=request_id", "actor__username"]
    search_help_text = _("Identifiant de l'objet ou de la requête, nom de l'analyste.")
    date_hierarchy = "created_at"
    paginator = CappedCountPaginator
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "created_at",
                    "actor",
                    "action",
                    "target",
                    "before_text",
                    "after_text",
                    "full_note",
                    "request_id",
                ]
            },
        ),
        (_("Contenu brut"), {"classes": ["collapse"], "fields": ["before_json", "after_json"]}),
    ]
    readonly_fields = [
        "created_at",
        "actor",
        "action",
        "target",
        "before_text",
        "after_text",
        "full_note",
        "request_id",
        "before_json",
        "after_json",
    ]

    def object_subtitle(self, obj):
        return f"{obj.get_action_display()} · {target_label(obj.target_type, obj.target_id)}"

    @admin.display(description=_("objet"), ordering="target_type")
    def target(self, obj):
        url = _admin_url_of(obj.target_type, obj.target_id)
        label = target_label(obj.target_type, obj.target_id)
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description=_("note"))
    def short_note(self, obj):
        note = note_text(obj.note)
        return note if len(note) <= 80 else note[:79] + "…"

    @admin.display(description=_("note"))
    def full_note(self, obj):
        return note_text(obj.note) or "—"

    # "Issue : faux positif", "Résolue : oui": the rows' codes by their labels (backoffice.labels.FIELD_LABELS).
    @admin.display(description=_("avant"))
    def before_text(self, obj):
        return data_html(obj.before)

    @admin.display(description=_("après"))
    def after_text(self, obj):
        return data_html(obj.after)

    @admin.display(description=_("avant (JSON)"))
    def before_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.before, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.display(description=_("après (JSON)"))
    def after_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.after, indent=2, ensure_ascii=False, sort_keys=True))


# Django's user and group pages with titles that read well ("Utilisateur", not "Modification de utilisateur").
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class BackofficeUserAdmin(FrenchTitlesMixin, UserAdmin):
    pass


@admin.register(Group)
class BackofficeGroupAdmin(FrenchTitlesMixin, GroupAdmin):
    pass


admin.site.site_header = _("SunuSàv · Risques")
admin.site.site_title = _("SunuSàv Risques")
admin.site.index_title = _("Back-office des risques")

from backoffice import admin_models  # noqa: E402,F401  (registers the model-version pages)
