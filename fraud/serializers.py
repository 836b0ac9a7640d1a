"""Input and output shapes of the fraud API; validation only, no decisions."""

from rest_framework import serializers

from sunusav.api.serializers import StrictFloatField, StrictIntegerField, StrictSerializer, batch_of

MAX_SATS = 21_000_000 * 100_000_000  # every bitcoin there will ever be


class FraudCheckInputSerializer(StrictSerializer):
    """The seed's body: who pays, the five features, and optionally the stored payment to hold."""

    user_id = serializers.CharField(max_length=64, trim_whitespace=False)
    amount_sats = StrictIntegerField(min_value=1, max_value=MAX_SATS)
    time_since_last_sec = StrictFloatField(min_value=0)
    invoices_last_min = StrictIntegerField(min_value=0, max_value=1_000_000)
    device_changes = StrictIntegerField(min_value=0, max_value=1_000_000)
    location_changes = StrictIntegerField(min_value=0, max_value=1_000_000)
    payment_id = serializers.UUIDField(required=False, allow_null=True)


FraudBatchCheckInputSerializer = batch_of(FraudCheckInputSerializer)


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
