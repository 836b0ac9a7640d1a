"""Prometheus metrics (prometheus-client) and the `/metrics` endpoint.

Two kinds of figures:
- Counted in the process that does the work (hot path, a few microseconds):
  request latency per URL name, fraud decisions by outcome, credit
  predictions by band, fallback answers, alerts opened and resolved.
- Read at scrape time from the database by `StateCollector`: queue depth and
  job failures per queue (`get_queue_stats`), outbox backlog, open alerts,
  the model version in service (an info metric).

Several gunicorn workers: set `PROMETHEUS_MULTIPROC_DIR` to an empty folder,
the same for every worker, before the processes start (prometheus-client
reads it at import); each process then writes its counters to memory-mapped
files there and a scrape, answered by any worker, adds them up. Empty the
folder at each deployment, and have gunicorn call
`prometheus_client.multiprocess.mark_process_dead(worker.pid)` in its
`child_exit` hook. Without the variable, counters live in the process.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from sunusav.api.auth import InternalService
from sunusav.ml.registry import active_version_row
from sunusav.queues import get_queue_stats

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUEST_LATENCY = Histogram(
    "sunusav_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL name, method and status.",
    ["view", "method", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
FRAUD_DECISIONS = Counter(
    "sunusav_fraud_decisions", "Fraud checks answered, by decision (allow, review, hold).", ["decision"]
)
CREDIT_PREDICTIONS = Counter("sunusav_credit_predictions", "Credit predictions answered, by band.", ["band"])
FALLBACK_ANSWERS = Counter(
    "sunusav_fallback_answers", "Decisions answered without the trained model (rules or default action).", ["model"]
)

ALERTS_OPENED = Counter("sunusav_alerts_opened", "Alerts opened, by type.", ["alert_type"])
ALERTS_RESOLVED = Counter("sunusav_alerts_resolved", "Alerts resolved by analysts, by type.", ["alert_type"])

# Children created once: `.labels()` costs ~1 us a call, a dict lookup ~30 ns.
_fraud_children = {d: FRAUD_DECISIONS.labels(d) for d in ("allow", "review", "hold")}
_fallback_children = {m: FALLBACK_ANSWERS.labels(m) for m in ("credit", "fraud")}
_credit_children: dict[str, object] = {}
_latency_children: dict[tuple[str, str, str], object] = {}


def observe_request(view: str, method: str, status: int, seconds: float) -> None:
    """Record one answered request."""
    key = (view, method, str(status))
    child = _latency_children.get(key)
    if child is None:
        child = _latency_children.setdefault(key, REQUEST_LATENCY.labels(*key))
    child.observe(seconds)


def count_fraud_decisions(results) -> None:
    """Count fraud check results (CheckResult) by decision, and fallback answers."""
    fallback = 0
    for result in results:
        child = _fraud_children.get(result.decision) or FRAUD_DECISIONS.labels(result.decision)
        child.inc()
        fallback += result.fallback
    if fallback:
        _fallback_children["fraud"].inc(fallback)


def count_credit_predictions(bands: list[str], fallback: bool) -> None:
    """Count credit predictions by band, and fallback answers."""
    for band in bands:
        child = _credit_children.get(band)
        if child is None:
            child = _credit_children.setdefault(band, CREDIT_PREDICTIONS.labels(band))
        child.inc()
    if fallback:
        _fallback_children["credit"].inc(len(bands))


def count_alert_opened(alert_type: str) -> None:
    ALERTS_OPENED.labels(alert_type).inc()


def count_alert_resolved(alert_type: str) -> None:
    ALERTS_RESOLVED.labels(alert_type).inc()


# Functions yielding metric families read at scrape time, registered by the apps (alerts: outbox, open alerts).
_STATE_FAMILIES: list[Callable[[], Iterable]] = []


def state_families_register(families: Callable[[], Iterable]) -> None:
    """Add figures read from the database at scrape time (an app's `ready()` calls this; once each)."""
    if families not in _STATE_FAMILIES:
        _STATE_FAMILIES.append(families)


class StateCollector:
    """Figures read from the database at scrape time (valid whatever process answers the scrape)."""

    def describe(self):
        return []  # keeps registration from querying the database

    def collect(self):
        try:
            yield from self._collect()
            ok = 1
        except Exception:  # a scrape must still answer with what the processes counted
            logger.exception("metrics: database figures unavailable")
            ok = 0
        up = GaugeMetricFamily("sunusav_state_scrape_ok", "1 if the database figures could be read.")
        up.add_metric([], ok)
        yield up

    def _collect(self):
        depth = GaugeMetricFamily(
            "sunusav_queue_depth", "Jobs waiting or running, per queue.", labels=["queue", "state"]
        )
        failed = GaugeMetricFamily(
            "sunusav_queue_failed_jobs", "Failed jobs kept by django-q2, per queue.", labels=["queue"]
        )
        done = GaugeMetricFamily(
            "sunusav_queue_completed_jobs", "Completed jobs kept by django-q2, per queue.", labels=["queue"]
        )
        for queue, row in get_queue_stats().items():
            depth.add_metric([queue, "waiting"], row["waiting"])
            depth.add_metric([queue, "active"], row["active"])
            failed.add_metric([queue], row["failed"])
            done.add_metric([queue], row["completed"])
        yield from (depth, failed, done)

        for families in _STATE_FAMILIES:
            yield from families()

        info = InfoMetricFamily(
            "sunusav_model", "Model version in service (rules: no trained model).", labels=["model"]
        )
        for name in ("credit", "fraud"):
            row = active_version_row(name)
            info.add_metric([name], {"version": row.version if row is not None else "rules"})
        yield info


def exposition() -> bytes:
    """Return the metrics in Prometheus' text format (all processes' counters in multiprocess mode)."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultCollectors())
    registry.register(StateCollector())
    return generate_latest(registry)


class _DefaultCollectors:
    """The process's own metrics (default registry) inside a per-scrape registry."""

    def describe(self):
        return []

    def collect(self):
        return REGISTRY.collect()


class InternalNetworkOrToken(BasePermission):
    """Allow an internal token, or a caller from METRICS_ALLOWED_NETWORKS (a scraper on the private network)."""

    message = "X-Internal-Token header required."

    def has_permission(self, request, view):
        if isinstance(request.user, InternalService):
            return True
        networks = getattr(settings, "METRICS_ALLOWED_NETWORKS", [])
        if not networks:
            return False
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


class MetricsView(APIView):
    """GET /metrics: Prometheus text exposition, for the internal token (or the allowed networks)."""

    permission_classes = [InternalNetworkOrToken]
    throttle_classes: list = []  # a scraper every few seconds must never be throttled

    def get(self, request):
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
