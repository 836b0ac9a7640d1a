"""Project middleware: observability (request id, timer, log line), the back-office's CSP, lockouts, cache outages."""

from __future__ import annotations

import logging
from time import perf_counter_ns

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.html import format_html
from django.utils.translation import get_language, gettext

from sunusav import prometheus, timings
from sunusav.api.cache_guard import CACHE_ERRORS, REDIS_DOWN_ERRORS
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


# --- Back-office security ------------------------------------------------------------------


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY with every answer outside /api/ (the admin and back-office pages).

    The API answers JSON to a service, not pages to a browser; and /api/docs/
    (drf-spectacular's Swagger UI) starts with an inline script this policy
    would block.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and not request.path_info.startswith("/api/") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


# --- Shared cache down -----------------------------------------------------------------------

_OUTAGE_PAGE = """<!doctype html>
<html lang="{}">
<head><meta charset="utf-8"><title>{}</title></head>
<body>
<main><h1>{}</h1><p>{}</p><p><a href="{}">{}</a></p></main>
</body>
</html>
"""


class CacheOutagePageMiddleware:
    """Answer a clean 503 when a page needs the shared cache and it is down: never a 500.

    The admin login needs it (django-axes keeps failed attempts and locks
    there): refusing the login is the safe side, since without the cache the
    lockout could not be enforced. Sessions live in the database, so an
    analyst already logged in keeps working on every page that does not need
    the cache. API views answer through sunusav.api.errors; this is the page
    for people.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, REDIS_DOWN_ERRORS):
            return None
        CACHE_ERRORS.labels("backoffice").inc()
        match = request.resolver_match
        view = match.view_name if match is not None else "unmatched"
        logging.getLogger("sunusav.cache").warning(
            "cache unavailable: %s", type(exception).__name__, extra={"view": view}
        )
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"detail": "Service temporarily unavailable (cache).", "code": "cache_unavailable"},
                status=503,
                headers={"Retry-After": "5"},
            )
        if view == "admin:login":
            message = gettext(
                "La connexion est impossible pour le moment : le service qui protège les comptes "
                "contre les essais de mots de passe ne répond pas. Réessayez dans quelques minutes."
            )
        else:
            message = gettext(
                "Cette page a besoin d'un service qui ne répond pas pour le moment (le cache partagé). "
                "Réessayez dans quelques minutes."
            )
        title = gettext("Service momentanément indisponible")
        lang = get_language() or settings.LANGUAGE_CODE
        html = format_html(_OUTAGE_PAGE, lang, title, title, message, request.get_full_path(), gettext("Réessayer"))
        return HttpResponse(html, status=503, content_type="text/html; charset=utf-8", headers={"Retry-After": "30"})
