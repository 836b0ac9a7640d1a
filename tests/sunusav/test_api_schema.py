"""The OpenAPI schema declares what the API accepts and answers (sunusav/api/schema.py and the views' extend_schema)."""

import pytest
from django.conf import settings
from django.test import Client


@pytest.fixture(scope="module")
def schema():
    return Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()


def _parameters(operation):
    return {p["name"]: p for p in operation.get("parameters", [])}


def test_only_api_operations_are_documented(schema):
    """/metrics (Prometheus text), /health and the schema / docs views stay out of the schema."""
    assert all(path.startswith("/api/") for path in schema["paths"])
    assert not {"/api/schema/", "/api/docs/"} & set(schema["paths"])


@pytest.mark.parametrize("component", ["CreditFeaturesInputBatchRequest", "FraudBatchCheckInputRequest"])
def test_batches_declare_1_to_api_batch_limit_items(schema, component):
    items = schema["components"]["schemas"][component]["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, settings.API_BATCH_LIMIT)


def test_alert_list_declares_its_parameters_and_answers(schema):
    operation = schema["paths"]["/api/alerts"]["get"]
    parameters = _parameters(operation)
    assert parameters["resolved"]["schema"] == {"type": "string", "enum": ["false", "true"]}
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert parameters["cursor"]["schema"] == {"type": "string"}
    assert parameters["member"]["schema"] == {"type": "string", "format": "uuid"}
    assert {"200", "400", "401", "404", "429", "503"} <= set(operation["responses"])


@pytest.mark.parametrize(
    ("path", "answers"),
    [
        ("/api/credit/members/{member_id}/score", {"200", "401", "404", "429", "503"}),
        ("/api/credit/members/{member_id}/explanation", {"200", "400", "401", "404", "429", "503"}),
    ],
)
def test_member_reads_declare_a_uuid_and_their_answers(schema, path, answers):
    operation = schema["paths"][path]["get"]
    assert _parameters(operation)["member_id"]["schema"] == {"type": "string", "format": "uuid"}
    assert set(operation["responses"]) == answers
    assert "application/json" in operation["responses"]["404"]["content"]
