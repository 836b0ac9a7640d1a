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
from tests.core.test_security import CREDIT

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
