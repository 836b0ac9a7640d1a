"""The floor's two routes: the JSON echo (on the product's paths too) and /health."""

import hmac
import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import path


def echo(request):
    """Check the token, parse the JSON body, answer it back as JSON."""
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    token = request.headers.get("X-Internal-Token", "")
    if not settings.FLOOR_TOKEN or not hmac.compare_digest(token, settings.FLOOR_TOKEN):
        return JsonResponse({"detail": "bad token"}, status=401)
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"detail": "invalid JSON"}, status=400)
    return JsonResponse(data, safe=False)


def health(request):
    return HttpResponse(b'{"status":"ok"}', content_type="application/json")


urlpatterns = [
    path("health", health),
    path("echo", echo),
    # The product's paths, so one URL list drives all three servers.
    path("api/fraud/check", echo),
    path("api/fraud/batch-check", echo),
    path("api/credit/predict", echo),
    path("api/credit/batch-predict", echo),
]
