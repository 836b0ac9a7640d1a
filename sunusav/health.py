"""Public liveness probe: says only whether the service and its database answer."""

from django.db import connection
from django.db.utils import DatabaseError
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def health(request):
    """Return `ok` when the database answers, else a 503 with `down`.

    Deliberately minimal and unauthenticated (load balancers call it); model
    details are behind the token at /api/credit/health and /api/fraud/health.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "down"}, status=503)
    return JsonResponse({"status": "ok"})
