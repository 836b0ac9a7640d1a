"""Reads of alerts and metrics."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from alerts.models import AIAlert, AlertType, Notification


def open_alert_for(*, member_id, alert_type: str) -> AIAlert | None:
    """Return the member's oldest unresolved alert of a type, if any."""
    return (
        AIAlert.objects.filter(user_id=member_id, alert_type=alert_type, resolved=False).order_by("created_at").first()
    )


def alerts_list(*, member_id=None, resolved: bool | None = None, alert_type: str | None = None):
    """Return alerts, newest first, filtered by member, resolution and type."""
    qs = AIAlert.objects.all()
    if member_id is not None:
        qs = qs.filter(user_id=member_id)
    if resolved is not None:
        qs = qs.filter(resolved=resolved)
    if alert_type:
        qs = qs.filter(alert_type=alert_type)
    return qs


def state_metric_families():
    """Yield the alerts' figures for a Prometheus scrape: the outbox backlog and open alerts by type."""
    backlog = GaugeMetricFamily("sunusav_outbox_pending", "Notifications waiting in the outbox.")
    backlog.add_metric([], Notification.objects.filter(status=Notification.Status.PENDING).count())
    yield backlog

    open_alerts = GaugeMetricFamily("sunusav_alerts_open", "Unresolved alerts, by type.", labels=["alert_type"])
    counts = dict(AIAlert.objects.filter(resolved=False).values_list("alert_type").annotate(n=Count("id")).order_by())
    for alert_type in AlertType.values:
        open_alerts.add_metric([alert_type], counts.get(alert_type, 0))
    yield open_alerts
