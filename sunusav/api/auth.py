"""Service-to-service authentication with `X-Internal-Token`.

Several tokens may be valid at once (`AI_INTERNAL_TOKENS`) so a token can be
rotated without downtime. Every comparison runs in constant time against every
configured token, and only a short fingerprint of the token ever leaves here.
"""

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from rest_framework import authentication, exceptions, permissions

HEADER = "HTTP_X_INTERNAL_TOKEN"


def token_fingerprint(token: str) -> str:
    """Return a short, non-reversible identifier of a token for audit rows."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class InternalService:
    """The caller behind a valid internal token (the main backend)."""

    fingerprint: str
    is_authenticated: bool = True
    is_anonymous: bool = False

    def __str__(self):
        return f"service:{self.fingerprint}"


def _matches(candidate: bytes) -> bool:
    # Compare against every token, without short-circuiting, so timing does
    # not tell which (or whether any) token shares a prefix with the input.
    found = False
    for token in settings.AI_INTERNAL_TOKENS:
        found |= hmac.compare_digest(candidate, token.encode())
    return found


class InternalTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate the main backend by its `X-Internal-Token` header."""

    def authenticate(self, request):
        raw = request.META.get(HEADER)
        if raw is None:
            return None
        if not raw or not _matches(raw.encode()):
            raise exceptions.AuthenticationFailed("Invalid internal token.", code="invalid_token")
        fingerprint = token_fingerprint(raw)
        return InternalService(fingerprint=fingerprint), fingerprint

    def authenticate_header(self, request):
        # A value here makes DRF answer 401 (not 403) to unauthenticated calls.
        return 'InternalToken realm="sunusav-risk"'


class IsInternalService(permissions.BasePermission):
    """Allow only callers authenticated by an internal token."""

    message = "X-Internal-Token header required."

    def has_permission(self, request, view):
        return isinstance(request.user, InternalService)
