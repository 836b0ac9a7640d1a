"""Project middleware: observability (request id, timer, log line), the back-office's CSP, lockouts, cache outages."""

from __future__ import annotations

import logging
import math
import time
from importlib import import_module
from time import perf_counter_ns

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.html import format_html

from sunusav import metrics, timings
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
        metrics.observe_request(view, request.method, response.status_code, elapsed_ns / 1e9)
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


# Per process: a lockout is announced again at each refused login while it lasts;
# one pass over the sessions per user and minute is enough (no new login can succeed meanwhile).
_ENDED_RECENTLY: dict[str, float] = {}


def sessions_of_locked_user_end(sender, *, username: str | None = None, **kwargs) -> int:
    """End every stored session of a user django-axes has just locked (receiver of `user_locked_out`).

    Axes refuses new logins to a locked username, but a session opened before
    the lock went on working: whoever was guessing the password may already
    hold it, or the owner left a browser open. Return how many sessions ended.
    """
    if not username:
        return 0
    now = time.monotonic()
    if now - _ENDED_RECENTLY.get(username, -math.inf) < 60:
        return 0
    user_model = get_user_model()
    pks = {
        str(pk)
        for pk in user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).values_list(
            "pk", flat=True
        )
    }
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not pks or not hasattr(store, "get_model_class"):
        return 0  # unknown user, or sessions that cannot be listed (signed cookies, cache)
    if len(_ENDED_RECENTLY) > 10_000:  # many users locked at once: forget, rather than grow
        _ENDED_RECENTLY.clear()
    _ENDED_RECENTLY[username] = now
    ended = 0
    rows = store.get_model_class().objects.filter(expire_date__gt=timezone.now())
    for key, data in rows.values_list("session_key", "session_data").iterator():
        if store().decode(data).get(SESSION_KEY) in pks:
            store(session_key=key).delete()
            ended += 1
    if ended:
        logging.getLogger("sunusav.security").warning(
            "session.ended_on_lockout", extra={"caller": f"user:{min(pks)}", "sessions": ended}
        )
    return ended


class LockedOutSessionsMiddleware:
    """Connect `sessions_of_locked_user_end` to axes' `user_locked_out`, then leave the chain (no cost per request).

    A startup hook: Django builds the middleware chain once per process
    before serving, and `MiddlewareNotUsed` removes this entry from it. (The
    connection belongs in SunusavConfig.ready(), which this change may not
    edit.)
    """

    def __init__(self, get_response):
        from axes.signals import user_locked_out

        user_locked_out.connect(sessions_of_locked_user_end, dispatch_uid="sunusav.sessions_of_locked_user_end")
        raise MiddlewareNotUsed


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
        # French only for now: these strings are not in the catalog yet (locale/ is updated
        # separately); once they are, wrap them in gettext() and locale/en gives the English.
        if view == "admin:login":
            message = (
                "La connexion est impossible pour le moment : le service qui protège les comptes "
                "contre les essais de mots de passe ne répond pas. Réessayez dans quelques minutes."
            )
        else:
            message = (
                "Cette page a besoin d'un service qui ne répond pas pour le moment (le cache partagé). "
                "Réessayez dans quelques minutes."
            )
        title = "Service momentanément indisponible"
        html = format_html(_OUTAGE_PAGE, "fr", title, title, message, request.get_full_path(), "Réessayer")
        return HttpResponse(html, status=503, content_type="text/html; charset=utf-8", headers={"Retry-After": "30"})
