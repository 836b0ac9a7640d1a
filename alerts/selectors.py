"""Reads of alerts and metrics."""

from alerts.models import AIAlert


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
