"""django-q2 jobs of the alerts app (thin: ids in, one service call)."""

from alerts.services import notifications_deliver_due


def deliver_notifications(limit: int = 500) -> dict[str, int]:
    """Send the outbox's due notifications."""
    return notifications_deliver_due(limit=limit)


def purge_expired() -> dict[str, int]:
    """Apply the retention periods."""
    from alerts.services import retention_purge

    return retention_purge()
