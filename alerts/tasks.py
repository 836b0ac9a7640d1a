"""django-q2 jobs of the alerts app (thin: ids in, one service call)."""

from alerts.services import notifications_deliver_due, retention_purge


def notifications_deliver(limit: int = 500) -> dict[str, int]:
    """Send the outbox's due notifications."""
    return notifications_deliver_due(limit=limit)


def ai_data_purge() -> dict[str, int]:
    """Apply the retention periods of ai_metrics, resolved alerts and sent notifications."""
    return retention_purge()
