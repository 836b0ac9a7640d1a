"""Refuse oversized API bodies before anything reads them."""

from django.conf import settings
from django.http import JsonResponse


def too_large_response() -> JsonResponse:
    """Return the 413 JSON answer for a body past DATA_UPLOAD_MAX_MEMORY_SIZE."""
    return JsonResponse(
        {
            "detail": f"Request body too large (limit {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes).",
            "code": "request_too_large",
        },
        status=413,
    )


class ApiBodySizeLimitMiddleware:
    """Answer 413 JSON to /api/ requests whose declared body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE.

    DRF's parsers read the request stream directly, bypassing the size check
    Django applies to `request.body`, so the limit is enforced here, from the
    Content-Length, before a byte is read.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and request.path_info.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return too_large_response()
        return self.get_response(request)
