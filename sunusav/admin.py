"""Admin pages for the core domain (members, tontines, money movements, models)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from sunusav import models
from sunusav.admin_utils import CappedCountPaginator


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    raw_id_fields = ["member"]
    ordering = ["position"]


@admin.register(models.Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["display_name", "region", "credit_score", "credit_score_updated_at", "created_at"]
    list_filter = ["region"]
    search_fields = ["display_name", "=id"]
    readonly_fields = ["id", "phone_hash", "credit_score", "credit_score_updated_at", "created_at"]
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(models.Tontine)
class TontineAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "cycle", "contribution_sats", "status", "started_at"]
    list_filter = ["cycle", "status", "region"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(models.Contribution)
class ContributionAdmin(admin.ModelAdmin):
    list_display = ["member", "tontine", "round_number", "amount_sats", "due_at", "paid_at"]
    list_select_related = ["member", "tontine"]
    raw_id_fields = ["member", "tontine"]
    date_hierarchy = "due_at"
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(models.MobileMoneyTransfer)
class MobileMoneyTransferAdmin(admin.ModelAdmin):
    list_display = ["member", "provider", "direction", "amount_xof", "created_at"]
    list_filter = ["provider", "direction"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(models.Endorsement)
class EndorsementAdmin(admin.ModelAdmin):
    list_display = ["endorser", "endorsee", "created_at"]
    list_select_related = ["endorser", "endorsee"]
    raw_id_fields = ["endorser", "endorsee"]
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(models.Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["id", "member", "kind", "amount_sats", "status", "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["member"]
    search_fields = ["=id", "=member__id"]
    raw_id_fields = ["member"]
    readonly_fields = ["is_fraud_label", "fraud_pattern"]
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(models.Loan)
class LoanAdmin(admin.ModelAdmin):
    list_display = ["member", "offered_amount_xof", "status", "offered_at", "closed_at"]
    list_filter = ["status"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    paginator = CappedCountPaginator
    show_full_result_count = False


admin.site.site_header = _("SunuSàv · Risques")
admin.site.site_title = _("SunuSàv Risques")
admin.site.index_title = _("Back-office des risques")

from sunusav import admin_models  # noqa: E402,F401  (registers the model-version pages)
