"""Public liveness probe: whether the service, its database, its shared cache and its models answer."""

from django.core.cache import cache
from django.db import connection
from django.db.utils import DatabaseError
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from sunusav.api.cache_guard import CACHE_DOWN_ERRORS, CacheOutage
from sunusav.ml.registry import registry

_CACHE = CacheOutage("health")


def _cache_state() -> str:
    """Return "ok" if the shared cache answers a read, else "down" (logged once per outage)."""
    try:
        cache.get("health:probe")
    except CACHE_DOWN_ERRORS as exc:
        _CACHE.failed(exc)
        return "down"
    _CACHE.succeeded()
    return "ok"


@require_GET
def health(request):
    """Return `ok`, `degraded` (a model serves its rule fallback, or the cache is down) or 503 `down`.

    Deliberately minimal and unauthenticated (load balancers call it): no
    versions, no errors. Details are behind the token at /api/<model>/health.
    A cache outage degrades the service but does not stop it (decisions do
    not need the cache), so it is 200, not 503: a load balancer must keep
    sending traffic.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "down"}, status=503)
    models = {name: registry.status(name)["status"] for name in registry.names}
    cache_state = _cache_state()
    healthy = cache_state == "ok" and all(state == "ok" for state in models.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", "cache": cache_state, "models": models})
