"""Input and output shapes of the integration events (validation only)."""

from django.utils import timezone
from rest_framework import serializers

from sunusav.api.serializers import StrictIntegerField, StrictSerializer
from sunusav.models import Payment

MAX_SATS = 21_000_000 * 100_000_000


class PaymentEventInputSerializer(StrictSerializer):
    """A Lightning payment or invoice the main backend has just seen."""

    payment_id = serializers.UUIDField()
    user_id = serializers.UUIDField(help_text="The paying member (table users).")
    kind = serializers.ChoiceField(choices=Payment.Kind.choices, default=Payment.Kind.PAYMENT)
    amount_sats = StrictIntegerField(min_value=1, max_value=MAX_SATS)
    device_id = serializers.CharField(max_length=64, allow_blank=True, required=False, default="")
    location = serializers.CharField(max_length=64, allow_blank=True, required=False, default="")
    created_at = serializers.DateTimeField(required=False)
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


class CycleCompletedInputSerializer(StrictSerializer):
    """A tontine round has paid out: rescore its members."""

    tontine_id = serializers.UUIDField()
    round_number = StrictIntegerField(min_value=1, required=False)


class CycleCompletedOutputSerializer(serializers.Serializer):
    tontine_id = serializers.UUIDField()
    enqueued = serializers.IntegerField(help_text="Credit checks enqueued, one per member.")
