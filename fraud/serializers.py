"""Input and output shapes of the fraud API; validation only, no decisions."""

import math
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from sunusav.api.serializers import StrictCharField, StrictFloatField, StrictIntegerField, StrictSerializer, batch_of
from sunusav.hashing import looks_like_phone, refuse_phone_number
from sunusav.models import MAX_SATS, Payment


class SinceField(StrictFloatField):
    """A finite number of seconds; a JSON integer too big for a float is not finite (400, not 500)."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except OverflowError:
            self.fail("finite")


class FraudCheckInputSerializer(StrictSerializer):
    """The seed's body: who pays, the five features, and optionally the stored payment to hold."""

    user_id = StrictCharField(
        max_length=64,
        trim_whitespace=False,
        validators=[refuse_phone_number],
        help_text="The member's id (or the backend's reference); never a phone number (400).",
    )
    amount_sats = StrictIntegerField(min_value=1, max_value=MAX_SATS)
    time_since_last_sec = SinceField(min_value=0)
    invoices_last_min = StrictIntegerField(min_value=0, max_value=1_000_000)
    device_changes = StrictIntegerField(min_value=0, max_value=1_000_000)
    location_changes = StrictIntegerField(min_value=0, max_value=1_000_000)
    payment_id = serializers.UUIDField(required=False, allow_null=True)

    def run_validation(self, data=serializers.empty):
        # Well-formed input skips DRF's per-field walk (and its deepcopy of the
        # fields, ~0.2 ms); anything else gets the full, field-naming validation.
        plain = _plain_item(data)
        return plain if plain is not None else super().run_validation(data)


_MAX_EXACT_INT = 2**53
_REQUIRED_INTS = ("amount_sats", "invoices_last_min", "device_changes", "location_changes")
_FIELDS = {"user_id", "time_since_last_sec", "payment_id", *_REQUIRED_INTS}


def _plain_item(item) -> dict | None:
    """Return an item validated like `FraudCheckInputSerializer`, or None to let DRF decide.

    Only accepts what the serializer accepts (a subset: anything unusual goes
    to DRF, which then also writes the field-named errors).
    """
    if type(item) is not dict or not item.keys() <= _FIELDS:
        return None
    user_id, since = item.get("user_id"), item.get("time_since_last_sec")
    if type(user_id) is not str or not 0 < len(user_id) <= 64 or not user_id.isascii() or "\x00" in user_id:
        return None
    if looks_like_phone(user_id):  # refused by the serializer, which names the field
        return None
    if type(since) is int:
        if not 0 <= since <= _MAX_EXACT_INT:  # past 2**53 (or a float's range) DRF decides
            return None
        since = float(since)
    elif type(since) is not float or not 0 <= since < math.inf:  # NaN fails the comparison
        return None
    out = {"user_id": user_id, "time_since_last_sec": since}
    for name in _REQUIRED_INTS:
        value = item.get(name)
        if type(value) is not int or not (1 if name == "amount_sats" else 0) <= value <= _INT_MAX[name]:
            return None
        out[name] = value
    if item.get("payment_id") is not None:
        try:
            out["payment_id"] = uuid.UUID(item["payment_id"])
        except (TypeError, ValueError, AttributeError):
            return None
    return out


_INT_MAX = {
    "amount_sats": MAX_SATS,
    "invoices_last_min": 1_000_000,
    "device_changes": 1_000_000,
    "location_changes": 1_000_000,
}


class FraudBatchCheckInputSerializer(batch_of(FraudCheckInputSerializer)):
    """`{"items": [...]}` of 1..API_BATCH_LIMIT checks.

    DRF's field-by-field validation costs ~50 us an item (50 ms a full batch,
    past the 30 ms budget), so well-formed batches take a plain-Python path
    that accepts a subset of what the serializer accepts; any other batch runs
    the serializer itself, which names the fields at fault.
    """

    def run_validation(self, data=serializers.empty):
        if type(data) is dict and data.keys() == {"items"} and type(data["items"]) is list:
            items = data["items"]
            if 0 < len(items) <= settings.API_BATCH_LIMIT:
                plain = [_plain_item(item) for item in items]
                if None not in plain:
                    return {"items": plain}
        return super().run_validation(data)


class ReasonSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    weight = serializers.FloatField(allow_null=True)
    fr = serializers.CharField()
    en = serializers.CharField()


class FraudCheckOutputSerializer(serializers.Serializer):
    """One decision: score, verdict, reasons, the model behind it, whether rules decided alone."""

    user_id = serializers.CharField()
    payment_id = serializers.UUIDField(allow_null=True)
    payment_status = serializers.CharField(allow_null=True)
    fraud_score = serializers.FloatField(allow_null=True)
    is_fraud = serializers.BooleanField()
    decision = serializers.ChoiceField(choices=["allow", "review", "hold"])
    reasons = ReasonSerializer(many=True)
    model_version = serializers.CharField(allow_null=True)
    fallback = serializers.BooleanField()
    replay = serializers.BooleanField()
    # Issue 15: the published ruleset that decided and the ids of its rules that fired (None / [] on a replay
    # of a check made before rulesets, or when scoring failed).
    ruleset_version = serializers.CharField(allow_null=True)
    rules_fired = serializers.ListField(child=serializers.CharField())
    # Issue 16: what the model knew of the member: `member_history` (their own baseline), `population_defaults`
    # (an unknown member); null when the model serving reads no member baseline.
    member_context = serializers.ChoiceField(choices=["member_history", "population_defaults"], allow_null=True)

    def to_representation(self, instance):
        # `instance` is (input item, CheckedItem). Written out by hand: DRF's
        # generic field walk costs ~0.1 ms an item, a third of the batch budget.
        item, checked = instance
        result, payment = checked.result, checked.payment
        return {
            "user_id": item["user_id"],
            "payment_id": str(payment.pk) if payment else None,
            "payment_status": payment.status if payment else None,
            "fraud_score": result.fraud_score,
            "is_fraud": result.is_fraud,
            "decision": result.decision,
            "reasons": result.reasons,
            "model_version": result.model_version,
            "fallback": result.fallback,
            "replay": checked.replay,
            "ruleset_version": result.ruleset_version,
            "rules_fired": result.rules_fired,
            "member_context": result.member_context,
        }


class FraudBatchCheckOutputSerializer(serializers.Serializer):
    results = FraudCheckOutputSerializer(many=True)


class FraudHealthOutputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    model_version = serializers.CharField(allow_null=True)
    trained_at = serializers.CharField(allow_null=True, required=False)
    age_seconds = serializers.IntegerField(allow_null=True, required=False)
    error = serializers.CharField(allow_null=True)
    serving = serializers.CharField(allow_null=True)
    thresholds = serializers.DictField(child=serializers.FloatField())
    default_action = serializers.CharField()


# --- Payment events from the main backend -------------------------------------------------


class PaymentEventInputSerializer(StrictSerializer):
    """A Lightning payment or invoice the main backend has just seen."""

    payment_id = serializers.UUIDField()
    user_id = serializers.UUIDField(help_text="The paying member (table users).")
    kind = serializers.ChoiceField(choices=Payment.Kind.choices, default=Payment.Kind.PAYMENT)
    amount_sats = StrictIntegerField(min_value=1, max_value=MAX_SATS)
    device_id = serializers.CharField(
        max_length=64, allow_blank=True, required=False, default="", validators=[refuse_phone_number]
    )
    location = serializers.CharField(
        max_length=64, allow_blank=True, required=False, default="", validators=[refuse_phone_number]
    )
    created_at = serializers.DateTimeField(
        required=False,
        help_text=(
            "ISO-8601 time the payment happened, by the backend's clock (omitted: when the event arrives). "
            "Accepted from PAYMENT_MAX_AGE_HOURS (default 24) before the server's clock up to "
            "PAYMENT_CLOCK_SKEW_SECONDS (default 300) after it; outside that window, 400. It is recorded and, "
            "when given, part of the idempotent body (the same payment_id with another created_at is a 409). "
            "It cannot lower the decision: the payment is screened both at this time and at the time the "
            "server received it, against the member's history at each, and the stricter answer stands."
        ),
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "ISO-8601 expiry of the Lightning invoice (invoices only; omit or null otherwise). "
            "Must be in the future. If the payment is held and still unreviewed at that time, "
            "it takes the configured default (HOLD_EXPIRY_DEFAULT: reject or release)."
        ),
    )

    def validate_created_at(self, value):
        now = timezone.now()
        skew = settings.PAYMENT_CLOCK_SKEW_SECONDS
        if value > now + timedelta(seconds=skew):
            raise serializers.ValidationError(
                f"Must not be ahead of the server's clock by more than {skew} seconds (PAYMENT_CLOCK_SKEW_SECONDS)."
            )
        hours = settings.PAYMENT_MAX_AGE_HOURS
        if value < now - timedelta(hours=hours):
            raise serializers.ValidationError(
                f"Must be within the last {hours:g} hours (PAYMENT_MAX_AGE_HOURS): too old to screen."
            )
        return value

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future: the invoice has already expired.")
        return value

    def validate(self, attrs):
        if attrs.get("expires_at") is not None and attrs.get("kind") != Payment.Kind.INVOICE:
            raise serializers.ValidationError({"expires_at": ["Only an invoice expires (kind must be invoice)."]})
        return attrs


class PaymentEventOutputSerializer(serializers.Serializer):
    payment_id = serializers.UUIDField(source="payment.pk")
    status = serializers.CharField(source="payment.status")
    decision = serializers.CharField(source="result.decision")
    fraud_score = serializers.FloatField(source="result.fraud_score", allow_null=True)
    is_fraud = serializers.BooleanField(source="result.is_fraud")
    reasons = serializers.ListField(source="result.reasons")
    model_version = serializers.CharField(source="result.model_version", allow_null=True)
    fallback = serializers.BooleanField(source="result.fallback")
    replay = serializers.BooleanField()
    ruleset_version = serializers.CharField(source="result.ruleset_version", allow_null=True)
    rules_fired = serializers.ListField(source="result.rules_fired", child=serializers.CharField())
    member_context = serializers.CharField(source="result.member_context", allow_null=True)
