"""Public liveness probe: whether the service, its database and its models answer."""

from django.db import connection
from django.db.utils import DatabaseError
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from sunusav.ml.registry import registry


@require_GET
def health(request):
    """Return `ok`, `degraded` (a model serves its rule fallback) or 503 `down`.

    Deliberately minimal and unauthenticated (load balancers call it): no
    versions, no errors. Details are behind the token at /api/<model>/health.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "down"}, status=503)
    models = {name: registry.status(name)["status"] for name in registry.names}
    overall = "ok" if all(state == "ok" for state in models.values()) else "degraded"
    return JsonResponse({"status": overall, "models": models})
