"""Internal-token authentication and the public health probe."""

import pytest
from django.test import Client
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from sunusav.api.auth import token_fingerprint


class Echo(APIView):
    def get(self, request):
        return Response({"caller": request.auth})


factory = APIRequestFactory()


def _call(**headers):
    return Echo.as_view()(factory.get("/api/echo", **headers))


def test_valid_token_is_accepted_and_fingerprinted(settings):
    settings.AI_INTERNAL_TOKENS = ["old-token-aaaaaaaaaaaaaaaaaaaa", "new-token-bbbbbbbbbbbbbbbbbbbb"]
    for token in settings.AI_INTERNAL_TOKENS:  # both valid during a rotation
        response = _call(HTTP_X_INTERNAL_TOKEN=token)
        assert response.status_code == 200
        assert response.data["caller"] == token_fingerprint(token)
        assert token not in response.data["caller"]


@pytest.mark.parametrize("header", [None, "", "wrong", "old-token", "old-token-aaaaaaaaaaaaaaaaaaaa "])
def test_missing_empty_wrong_or_prefix_token_is_401(settings, header):
    settings.AI_INTERNAL_TOKENS = ["old-token-aaaaaaaaaaaaaaaaaaaa"]
    headers = {} if header is None else {"HTTP_X_INTERNAL_TOKEN": header}
    response = _call(**headers)
    response.render()
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert "old-token-aaaa" not in response.content.decode()


@pytest.mark.django_db
def test_public_health_needs_no_token():
    response = Client().get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in {"ok", "degraded"}
    assert set(body) == {"status", "cache", "models"}
    assert body["cache"] == "ok"


def test_strict_float_refuses_an_integer_beyond_any_float():
    from rest_framework.exceptions import ValidationError

    from sunusav.api.serializers import StrictFloatField

    field = StrictFloatField()
    with pytest.raises(ValidationError) as excinfo:
        field.run_validation(10**400)
    assert "finite" in str(excinfo.value)
