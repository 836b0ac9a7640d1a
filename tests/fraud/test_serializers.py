"""The validation fast path never accepts what the DRF serializer rejects, and every bad input is a 400 naming its field.

`fraud.serializers._plain_item` skips DRF's field walk for well-formed items
(single checks and batches). These tests feed every bad input of the issue, and
some nastier ones, through both APIs, and compare the fast path with the full
serializer on a corpus of good and bad items.
"""

import json

import pytest
from rest_framework import serializers as drf

from alerts.models import AIAlert, AIMetric
from fraud.serializers import FraudCheckInputSerializer, _plain_item
from tests.fraud.conftest import ORDINARY, SEED_EXAMPLE

pytestmark = pytest.mark.django_db

UUID = "6c0a3f7e-1b1e-4c4e-9a55-3d0b7c1f2a10"
HUGE_INT = 10**400  # valid JSON, too big for a float

# (item, the field a 400 must name)
BAD_ITEMS = [
    *[({k: v for k, v in SEED_EXAMPLE.items() if k != name}, name) for name in SEED_EXAMPLE],
    ({**SEED_EXAMPLE, "merchant": "x"}, "merchant"),
    ({**SEED_EXAMPLE, "amount_sats": -5}, "amount_sats"),
    ({**SEED_EXAMPLE, "amount_sats": 0}, "amount_sats"),
    ({**SEED_EXAMPLE, "amount_sats": 10.5}, "amount_sats"),
    ({**SEED_EXAMPLE, "amount_sats": "1000"}, "amount_sats"),
    ({**SEED_EXAMPLE, "amount_sats": True}, "amount_sats"),
    ({**SEED_EXAMPLE, "amount_sats": None}, "amount_sats"),
    ({**SEED_EXAMPLE, "amount_sats": [1000]}, "amount_sats"),
    ({**SEED_EXAMPLE, "amount_sats": 21_000_000 * 100_000_000 + 1}, "amount_sats"),
    ({**SEED_EXAMPLE, "amount_sats": HUGE_INT}, "amount_sats"),
    ({**SEED_EXAMPLE, "invoices_last_min": -1}, "invoices_last_min"),
    ({**SEED_EXAMPLE, "invoices_last_min": 2.5}, "invoices_last_min"),
    ({**SEED_EXAMPLE, "invoices_last_min": False}, "invoices_last_min"),
    ({**SEED_EXAMPLE, "device_changes": "3"}, "device_changes"),
    ({**SEED_EXAMPLE, "location_changes": {"n": 1}}, "location_changes"),
    ({**SEED_EXAMPLE, "time_since_last_sec": -1}, "time_since_last_sec"),
    ({**SEED_EXAMPLE, "time_since_last_sec": -0.5}, "time_since_last_sec"),
    ({**SEED_EXAMPLE, "time_since_last_sec": "5"}, "time_since_last_sec"),
    ({**SEED_EXAMPLE, "time_since_last_sec": True}, "time_since_last_sec"),
    ({**SEED_EXAMPLE, "time_since_last_sec": None}, "time_since_last_sec"),
    ({**SEED_EXAMPLE, "time_since_last_sec": HUGE_INT}, "time_since_last_sec"),
    ({**SEED_EXAMPLE, "user_id": None}, "user_id"),
    ({**SEED_EXAMPLE, "user_id": ""}, "user_id"),
    ({**SEED_EXAMPLE, "user_id": "x" * 65}, "user_id"),
    ({**SEED_EXAMPLE, "user_id": "a\x00b"}, "user_id"),
    ({**SEED_EXAMPLE, "user_id": ["u"]}, "user_id"),
    ({**SEED_EXAMPLE, "payment_id": "not-a-uuid"}, "payment_id"),
    ({**SEED_EXAMPLE, "payment_id": ""}, "payment_id"),
    ({**SEED_EXAMPLE, "payment_id": [UUID]}, "payment_id"),
]
# Not expressible as Python dicts: NaN / Infinity literals in the JSON text.
RAW_BAD = [
    (json.dumps(SEED_EXAMPLE).replace('"time_since_last_sec": 5', '"time_since_last_sec": NaN'), "time_since_last_sec"),
    (
        json.dumps(SEED_EXAMPLE).replace('"time_since_last_sec": 5', '"time_since_last_sec": Infinity'),
        "time_since_last_sec",
    ),
    (json.dumps(SEED_EXAMPLE).replace('"amount_sats": 1000000', '"amount_sats": Infinity'), "amount_sats"),
    (json.dumps(SEED_EXAMPLE).replace('"amount_sats": 1000000', '"amount_sats": -Infinity'), "amount_sats"),
    (json.dumps(SEED_EXAMPLE).replace('"invoices_last_min": 10', '"invoices_last_min": NaN'), "invoices_last_min"),
]


def _post(client, url, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json")


def _nothing_written():
    return not AIMetric.objects.exists() and not AIAlert.objects.exists()


@pytest.mark.parametrize(("body", "field"), BAD_ITEMS + RAW_BAD)
def test_bad_single_check_is_400_naming_the_field(api_client, fraud_model, body, field):
    response = _post(api_client, "/api/fraud/check", body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert _nothing_written()


@pytest.mark.parametrize(("body", "field"), BAD_ITEMS + RAW_BAD)
def test_bad_item_in_a_batch_is_400_naming_position_and_field(api_client, fraud_model, body, field):
    item = body if isinstance(body, str) else json.dumps(body)
    batch = '{"items": [%s, %s, %s]}' % (json.dumps(ORDINARY), item, json.dumps(ORDINARY))  # noqa: UP031
    response = _post(api_client, "/api/fraud/batch-check", batch)
    assert response.status_code == 400, response.content
    errors = response.json()["items"]
    # DRF names a bad item by its position: {"1": {field: [...]}}.
    assert set(errors) == {"1"} and field in errors["1"], errors
    assert _nothing_written()


@pytest.mark.parametrize(
    "body",
    ["{not json", "", "null", "[1, 2]", '"text"', "42", '{"items": "x"}', json.dumps(SEED_EXAMPLE) + "garbage"],
)
def test_non_json_or_non_object_is_400(api_client, fraud_model, body):
    for url in ("/api/fraud/check", "/api/fraud/batch-check"):
        response = _post(api_client, url, body)
        assert response.status_code == 400, (url, body, response.content)
    assert _nothing_written()


def test_oversized_or_empty_batch_is_400_on_items(api_client, fraud_model, settings):
    for items in ([], [ORDINARY] * (settings.API_BATCH_LIMIT + 1)):
        response = _post(api_client, "/api/fraud/batch-check", {"items": items})
        assert response.status_code == 400 and "items" in response.json()
    assert _nothing_written()


GOOD_ITEMS = [
    SEED_EXAMPLE,
    ORDINARY,
    {**ORDINARY, "time_since_last_sec": 0},
    {**ORDINARY, "time_since_last_sec": 0.25},
    {**ORDINARY, "time_since_last_sec": -0.0},
    {**ORDINARY, "time_since_last_sec": 2**53},
    {**ORDINARY, "time_since_last_sec": 2**53 + 1},
    {**ORDINARY, "time_since_last_sec": 1e300},
    {**ORDINARY, "amount_sats": 1},
    {**ORDINARY, "amount_sats": 21_000_000 * 100_000_000},
    {**ORDINARY, "amount_sats": 12_000.0},
    {**ORDINARY, "invoices_last_min": 1_000_000},
    {**ORDINARY, "user_id": "x" * 64},
    {**ORDINARY, "user_id": " "},
    {**ORDINARY, "user_id": "Aïssatou Ndiaye"},
    {**ORDINARY, "user_id": 12345},
    {**ORDINARY, "payment_id": None},
    {**ORDINARY, "payment_id": UUID},
    {**ORDINARY, "payment_id": UUID.upper()},
    {**ORDINARY, "payment_id": UUID.replace("-", "")},
    {**ORDINARY, "payment_id": "{" + UUID + "}"},
    {**ORDINARY, "payment_id": "urn:uuid:" + UUID},
]


def _drf(item):
    """Validate with DRF's full field walk (the fast path bypassed)."""
    serializer = FraudCheckInputSerializer()
    try:
        return drf.Serializer.run_validation(serializer, item)
    except drf.ValidationError:
        return None


@pytest.mark.parametrize("item", GOOD_ITEMS + [body for body, _ in BAD_ITEMS])
def test_fast_path_accepts_only_what_drf_accepts_with_the_same_values(item):
    fast = _plain_item(item)
    if fast is None:
        return  # DRF decides: nothing to compare
    full = _drf(item)
    assert full is not None, f"fast path accepted what DRF rejects: {item!r}"
    assert dict(full) == fast or dict(full) == {**fast, "payment_id": None}
    assert {k: type(v) for k, v in fast.items()} == {k: type(v) for k, v in full.items() if v is not None}


@pytest.mark.parametrize(("item", "_field"), BAD_ITEMS)
def test_drf_rejects_every_bad_item_and_the_fast_path_defers(item, _field):
    assert _plain_item(item) is None
    assert _drf(item) is None
