"""Reads of alerts and metrics."""

from alerts.models import AIAlert


def open_alert_for(*, member_id, alert_type: str) -> AIAlert | None:
    """Return the member's oldest unresolved alert of a type, if any."""
    return (
        AIAlert.objects.filter(user_id=member_id, alert_type=alert_type, resolved=False).order_by("created_at").first()
    )
