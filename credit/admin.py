"""Admin pages of credit: tontines (with their rotation exposure) and loans."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from credit.exposure import rotation_exposures
from sunusav import models
from sunusav.admin_utils import CappedCountPaginator, FrenchTitlesMixin, ReadableFieldsMixin
from sunusav.presenters import number_text, sats_and_xof
from sunusav.search import AccentInsensitiveSearchMixin


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    raw_id_fields = ["member"]
    ordering = ["position"]


@admin.register(models.Tontine)
class TontineAdmin(AccentInsensitiveSearchMixin, FrenchTitlesMixin, ReadableFieldsMixin, admin.ModelAdmin):
    list_display = ["name", "region", "cycle", "contribution", "status", "started_at"]
    readable_fields = {"contribution_sats": "contribution"}
    list_filter = ["cycle", "status", "region"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["exposure"] = rotation_exposures(tontine_ids=[obj.pk]).get(str(obj.pk))
            context["exposure_threshold"] = settings.LIQUIDITY_SHORTFALL_SHARE
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description=_("cotisation"), ordering="contribution_sats")
    def contribution(self, obj):
        return sats_and_xof(obj.contribution_sats)


@admin.register(models.Loan)
class LoanAdmin(FrenchTitlesMixin, ReadableFieldsMixin, admin.ModelAdmin):
    list_display = ["member", "offered_amount", "status", "offered_at", "closed_at"]
    readable_fields = {"offered_amount_xof": "offered_amount"}
    list_filter = ["status"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    paginator = CappedCountPaginator
    show_full_result_count = False

    @admin.display(description=_("montant proposé"), ordering="offered_amount_xof")
    def offered_amount(self, obj):
        return _xof(obj.offered_amount_xof)


def _xof(amount) -> str:
    return "—" if amount is None else f"{number_text(int(amount))} XOF"
