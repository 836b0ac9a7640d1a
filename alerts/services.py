"""Writes of alerts and metrics: every model decision leaves a trace here."""

from __future__ import annotations

from django.db import transaction

from alerts.models import AIAlert, AIMetric, AlertType
from sunusav.models import Member


def metric_record(*, member: Member | None, key: str, value: float | None, meta: dict | None = None) -> AIMetric:
    """Write one `ai_metrics` row (a score, a check, a measurement)."""
    return AIMetric.objects.create(user=member, metric_key=key, metric_value=value, meta=meta or {})


def metrics_record_bulk(*, rows: list[AIMetric], batch_size: int = 2000) -> list[AIMetric]:
    """Write many `ai_metrics` rows in a few statements (batch scoring)."""
    return AIMetric.objects.bulk_create(rows, batch_size=batch_size)


@transaction.atomic
def alert_create(*, member: Member | None, alert_type: str, payload: dict) -> AIAlert:
    """Open an alert of one of the three seed types."""
    if alert_type not in AlertType.values:
        raise ValueError(f"unknown alert type {alert_type!r}")
    return AIAlert.objects.create(user=member, alert_type=alert_type, payload=payload)
