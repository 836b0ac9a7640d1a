"""Issue 18: bad input is a JSON 400 naming what is wrong, never an HTML 500.

Each case below crashed or was misread before: integers past 64 bits, 10,000
levels of nesting, lone surrogates echoed in errors, duplicate keys,
upper-case media types, chunked bodies.
"""

import json
import uuid

import pytest
from django.test import Client

from alerts.models import AIMetric
from tests.core.test_security import CREDIT, FRAUD, POSTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(settings):
    """A client with the token that returns a server error as a response (HTML 500), not by raising."""
    return Client(raise_request_exception=False, HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])


def _post(client, url, raw: str | bytes, content_type="application/json"):
    return client.post(url, data=raw, content_type=content_type)


def _json_400(response) -> dict:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)  # strict: the body must be valid UTF-8 JSON


# --- Integers past 64 bits ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["contributions_count", "community_endorsements"])
@pytest.mark.parametrize("value", [2**64, 2**63, 10**30, 1_000_001])
def test_credit_counts_past_their_maximum_are_400_naming_the_field(client, field, value):
    body = {**CREDIT, field: value}
    assert field in _json_400(_post(client, "/api/credit/predict", json.dumps(body)))
    errors = _json_400(_post(client, "/api/credit/batch-predict", json.dumps({"items": [CREDIT, body]})))
    item_errors = errors["items"]
    assert field in (item_errors["1"] if isinstance(item_errors, dict) else item_errors[1]), errors
    assert AIMetric.objects.count() == 0


def test_credit_counts_at_their_maximum_are_accepted(client):
    body = {**CREDIT, "contributions_count": 1_000_000, "community_endorsements": 1_000_000}
    assert _post(client, "/api/credit/predict", json.dumps(body)).status_code == 200


@pytest.mark.parametrize("field", ["tontine_contributions", "mobile_tx_volume", "avg_payment_delay_days"])
def test_credit_float_given_an_integer_beyond_any_float_is_400(client, field):
    raw = json.dumps({**CREDIT, field: 0}).replace(f'"{field}": 0', f'"{field}": 1{"0" * 400}')
    assert field in _json_400(_post(client, "/api/credit/predict", raw))


def test_every_integer_field_has_a_documented_maximum():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    unbounded = []
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue  # inputs only
        for field, spec in component.get("properties", {}).items():
            if spec.get("type") == "integer" and "maximum" not in spec:
                unbounded.append(f"{name}.{field}")
    assert not unbounded


def test_cycle_completed_round_number_past_64_bits_is_400(client):
    raw = json.dumps({"tontine_id": str(uuid.uuid4()), "round_number": 2**64})
    assert "round_number" in _json_400(_post(client, "/api/events/cycle-completed", raw))


# --- Nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", list(POSTS))
@pytest.mark.parametrize("shape", ["array", "object", "in a field"])
def test_deep_nesting_is_400_on_every_api_view(client, url, shape):
    depth = 10_000
    if shape == "array":
        raw = "[" * depth + "]" * depth
    elif shape == "object":
        raw = '{"a":' * depth + "1" + "}" * depth
    else:
        raw = json.dumps(POSTS[url])[:-1] + ', "user_id": ' + "[" * depth + "]" * depth + "}"
    payload = _json_400(_post(client, url, raw))
    assert "detail" in payload


def test_nesting_just_past_the_limit_is_refused_and_at_the_limit_is_parsed(client):
    from sunusav.api.parsers import MAX_DEPTH

    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    past = "[" + at_limit + "]"
    assert "nested deeper" in _json_400(_post(client, "/api/events/payment", past))["detail"]
    # At the limit the parser lets it through: the serializer then refuses the shape.
    detail = _json_400(_post(client, "/api/events/payment", at_limit))
    assert "nested" not in json.dumps(detail)


# --- Lone surrogates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        ("/api/fraud/check", json.dumps({**FRAUD, "\ud800": 1})),
        ("/api/credit/predict", json.dumps({**CREDIT, "\udfff": 1})),
        (
            "/api/events/payment",
            json.dumps(
                {"payment_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "amount_sats": 5, "kind": "\ud800"}
            ),
        ),
        ("/api/fraud/check", json.dumps({**FRAUD, "user_id": "a\ud800b"})),
    ],
)
def test_lone_surrogates_are_a_400_json_answer(client, url, raw):
    assert "\\ud8" in raw or "\\udf" in raw
    _json_400(_post(client, url, raw))


def test_a_valid_surrogate_pair_is_still_accepted(client):
    # "\ud83d\ude00" is one character (U+1F600), written as an escaped pair.
    raw = json.dumps({**FRAUD, "user_id": "emoji-\U0001f600"})
    assert "\\ud83d\\ude00" in raw
    assert _post(client, "/api/fraud/check", raw).status_code == 200


# --- Duplicate keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/fraud/check", "/api/credit/predict", "/api/events/payment"])
def test_duplicate_keys_are_400_naming_the_key(client, url):
    body = json.dumps(POSTS[url])
    raw = body[:-1] + ', "user_id": "someone-else"}'
    payload = _json_400(_post(client, url, raw))
    assert "duplicate key 'user_id'" in payload["detail"]
    assert AIMetric.objects.count() == 0


def test_a_duplicate_key_inside_a_batch_item_is_400(client):
    item = json.dumps(FRAUD)[:-1] + ', "amount_sats": 1}'
    payload = _json_400(_post(client, "/api/fraud/batch-check", '{"items": [' + item + "]}"))
    assert "amount_sats" in payload["detail"]
