"""Admin pages for alerts and metrics (the analysts' work queues build on these)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from alerts.models import AIAlert, AIMetric
from alerts.services import alert_resolve
from sunusav.admin_utils import CappedCountPaginator


@admin.register(AIAlert)
class AIAlertAdmin(admin.ModelAdmin):
    list_display = ["alert_type", "user", "created_at", "resolved", "resolved_at"]
    list_filter = ["alert_type", "resolved"]
    list_select_related = ["user"]
    search_fields = ["user__display_name", "=user__id"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
    ordering = ["resolved", "-created_at"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    actions = ["resolve"]

    @admin.action(description=_("Marquer comme résolues"), permissions=["change"])
    def resolve(self, request, queryset):
        # Audited per alert (ai_metrics `alert_resolved`, with this request's id and the alert's origin).
        for alert in queryset.filter(resolved=False):
            alert_resolve(alert=alert, actor=f"user:{request.user.pk}")


@admin.register(AIMetric)
class AIMetricAdmin(admin.ModelAdmin):
    list_display = ["metric_key", "metric_value", "user", "created_at"]
    list_filter = ["metric_key"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    paginator = CappedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # an audit trail is written by services only

    def has_change_permission(self, request, obj=None):
        return False
