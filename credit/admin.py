"""Admin pages of credit: tontines (with their rotation exposure) and loans."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin

from credit.exposure import rotation_exposures
from sunusav import models
from sunusav.admin_utils import CappedCountPaginator


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    raw_id_fields = ["member"]
    ordering = ["position"]


@admin.register(models.Tontine)
class TontineAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "cycle", "contribution_sats", "status", "started_at"]
    list_filter = ["cycle", "status", "region"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["exposure"] = rotation_exposures(tontine_ids=[obj.pk]).get(str(obj.pk))
            context["exposure_threshold"] = settings.LIQUIDITY_SHORTFALL_SHARE
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


@admin.register(models.Loan)
class LoanAdmin(admin.ModelAdmin):
    list_display = ["member", "offered_amount_xof", "status", "offered_at", "closed_at"]
    list_filter = ["status"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    paginator = CappedCountPaginator
    show_full_result_count = False
