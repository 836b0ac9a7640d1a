"""Decisions are auditable (model version, input hash, score, decision, time, token) and carry no raw personal data."""

import json
import re
import uuid

import pytest

from alerts.models import AIAlert, AIMetric
from sunusav.api.auth import token_fingerprint
from sunusav.hashing import check_input_hash, input_hash
from tests.factories import MemberFactory, suspicious_history

pytestmark = pytest.mark.django_db

# A Senegalese mobile number standing alone (not digits inside a hex id).
PHONE = re.compile(r"(?<!\w)(?:\+?221[\s.-]?)?7[05678](?:[\s.-]?\d){7}(?!\w)")


def test_the_phone_pattern_finds_numbers_not_hex_ids():
    assert PHONE.search('"+221 77 123 45 67"') and PHONE.search("781234567")
    assert not PHONE.search("759621220a794a4bba316df6a480b094")


def test_hand_written_fraud_hash_equals_the_canonical_one():
    features = {
        "amount_sats": 1_000_000,
        "time_since_last_sec": 5.5,
        "invoices_last_min": 10,
        "device_changes": 3,
        "location_changes": 2,
    }
    for payment_id in (None, str(uuid.uuid4())):
        expected = input_hash({**features, "user_id": "test-user", "payment_id": payment_id})
        assert check_input_hash("test-user", features, payment_id) == expected


def test_every_decision_row_is_auditable_and_free_of_personal_data(api_client, settings):
    member = MemberFactory(display_name="Awa Diop", phone_hash="a" * 64)
    suspicious_history(member)
    credit = {
        "user_id": str(member.pk),
        "tontine_contributions": 50000,
        "punctuality_rate": 0.9,
        "contributions_count": 10,
        "mobile_tx_volume": 100000,
        "avg_payment_delay_days": 1,
        "community_endorsements": 5,
    }
    assert api_client.post("/api/credit/predict", credit, format="json").status_code == 200
    event = {
        "payment_id": str(uuid.uuid4()),
        "user_id": str(member.pk),
        "kind": "invoice",
        "amount_sats": 1_000_000,
        "device_id": "device-9",
        "location": "place-9",
    }
    assert api_client.post("/api/events/payment", event, format="json").json()["decision"] == "hold"

    fingerprint = token_fingerprint(settings.AI_INTERNAL_TOKENS[0])
    rows = list(AIMetric.objects.filter(metric_key__in=["credit_prediction", "fraud_check"]))
    assert {r.metric_key for r in rows} == {"credit_prediction", "fraud_check"}
    for row in rows:
        assert row.meta["model_version"] and re.fullmatch(r"[0-9a-f]{64}", row.meta["input_hash"])
        assert row.metric_value is not None and row.created_at is not None
        assert row.meta["token"] == fingerprint
        assert row.meta.get("decision") or row.meta.get("band")

    texts = [json.dumps(r.meta, ensure_ascii=False) for r in AIMetric.objects.all()]
    texts += [json.dumps(a.payload, ensure_ascii=False) for a in AIAlert.objects.all()]
    assert texts
    for text in texts:
        assert "Awa" not in text and "Diop" not in text
        assert "a" * 64 not in text
        assert not PHONE.search(text), text
        assert settings.AI_INTERNAL_TOKENS[0] not in text


# --- Phone numbers are refused where an identifier belongs (issue 18) -------------------------

PHONE_LIKE = [
    "+221 77 123 45 67",
    "+221771234567",
    "00221 77 123 45 67",
    "00221771234567",
    "221 78 123 45 67",
    "77 123 45 67",
    "77.123.45.67",
    "76-123-45-67",
    "701234567",
    "tel:+221 70 123 45 67",
    "+33612345678",
]
NOT_PHONES = [
    "test-user",
    "sec-user",
    str(uuid.UUID(int=0x771234567)),
    "0f708e5da44c4a6cabe9471b5da02ffb",
    "device-9",
    "Touba",
    "u-2",
]


@pytest.mark.parametrize("value", PHONE_LIKE)
def test_phone_like_values_are_refused_with_a_message_naming_the_keyed_hash(value):
    from django.core.exceptions import ValidationError

    from sunusav.hashing import looks_like_phone, refuse_phone_number

    assert looks_like_phone(value)
    with pytest.raises(ValidationError) as raised:
        refuse_phone_number(value)
    message = " ".join(raised.value.messages)
    assert "phone numbers are not accepted here" in message.lower() and "keyed hash" in message
    assert value not in message


@pytest.mark.parametrize("value", NOT_PHONES)
def test_identifiers_that_are_not_phone_numbers_pass(value):
    from sunusav.hashing import looks_like_phone, refuse_phone_number

    assert not looks_like_phone(value)
    refuse_phone_number(value)


def test_the_keyed_hash_of_a_phone_number_is_what_passes():
    from sunusav.hashing import looks_like_phone, phone_hash

    assert not any(looks_like_phone(phone_hash(p)) for p in ["+221771234567", "+221701234567", "+221761234567"])
