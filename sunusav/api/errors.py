"""API error shape: DRF's field-keyed errors, plus JSON for every other failure."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from sunusav.api.cache_guard import CACHE_ERRORS, REDIS_DOWN_ERRORS
from sunusav.api.middleware import too_large_response
from sunusav.queues import QueueUnavailable

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    """Return DRF's answer, a 413 JSON body past the size limit, or a 503 when the database or cache is unreachable."""
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, RequestDataTooBig):
        return too_large_response()
    if isinstance(exc, QueueUnavailable):
        logger.error("queue unavailable: %s", exc)
        return Response(
            {"detail": "Service temporarily unavailable (job queue).", "code": "queue_unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, REDIS_DOWN_ERRORS):
        # Only a view that truly needs the shared cache gets here: decisions do not (the throttle fails open).
        CACHE_ERRORS.labels("api").inc()
        logger.warning("cache unavailable: %s", type(exc).__name__)
        return Response(
            {"detail": "Service temporarily unavailable (cache).", "code": "cache_unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        logger.warning("database unavailable: %s", type(exc).__name__)
        return Response(
            {
                "detail": "Service temporarily unavailable (database).",
                "code": "database_unavailable",
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return None


def page_not_found(request, exception):
    """Django's 404 (a URL no route matches, e.g. a non-UUID where the route is `<uuid:>`): JSON under /api/.

    DRF's views answer their own 404s in JSON; a path that reaches no view got Django's HTML page,
    which the OpenAPI schema does not declare (schemathesis: "Undocumented Content-Type").
    """
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
