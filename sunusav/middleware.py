"""The observability middleware: request id, per-stage timer, latency histogram, one JSON log line per request."""

from __future__ import annotations

import logging
from time import perf_counter_ns

from sunusav import prometheus, timings
from sunusav.logs import new_request_id, request_id_var, valid_request_id

logger = logging.getLogger("sunusav.request")
HEADER = "HTTP_X_REQUEST_ID"
# Probes and scrapes every few seconds would drown the request log.
QUIET_VIEWS = frozenset({"health", "metrics"})


def _caller(request) -> str | None:
    # DRF copies its authenticated user onto the Django request.
    user = getattr(request, "user", None)
    fingerprint = getattr(user, "fingerprint", None)
    if fingerprint:
        return f"service:{fingerprint}"
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return None


class ObservabilityMiddleware:
    """Give each request an id (X-Request-ID, validated, or generated), time it, log it, count it.

    Placed first in MIDDLEWARE so its time covers the whole stack.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = perf_counter_ns()
        request_id = valid_request_id(request.META.get(HEADER)) or new_request_id()
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        timer_token = timings.start(started)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            self._record(request, response, started)
            return response
        finally:
            timings.stop(timer_token)
            request_id_var.reset(id_token)

    def _record(self, request, response, started: int) -> None:
        elapsed_ns = perf_counter_ns() - started
        match = request.resolver_match
        view = match.view_name if match is not None else "unmatched"
        prometheus.observe_request(view, request.method, response.status_code, elapsed_ns / 1e9)
        extra = {
            "view": view,
            "method": request.method,
            "status": response.status_code,
            "duration_us": elapsed_ns // 1000,
            "caller": _caller(request),
        }
        stages = timings.current()
        if stages is not None and stages.us:
            stages.mark("answer")
            extra["stages_us"] = stages.us
        logger.log(logging.DEBUG if view in QUIET_VIEWS else logging.INFO, "request", extra=extra)
