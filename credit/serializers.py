"""Input and output shapes of the credit API (the seed's bodies, strictly checked)."""

from rest_framework import serializers

from sunusav.api.serializers import StrictFloatField, StrictIntegerField, StrictSerializer, batch_of


class CreditFeaturesInputSerializer(StrictSerializer):
    """The seed's predict body: `user_id` and the six features."""

    user_id = serializers.CharField(max_length=64, allow_blank=False)
    tontine_contributions = StrictFloatField(min_value=0)
    punctuality_rate = StrictFloatField(min_value=0, max_value=1)
    contributions_count = StrictIntegerField(min_value=0)
    mobile_tx_volume = StrictFloatField(min_value=0)
    avg_payment_delay_days = StrictFloatField(min_value=0)
    community_endorsements = StrictIntegerField(min_value=0)


CreditBatchInputSerializer = batch_of(CreditFeaturesInputSerializer)


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    feature = serializers.CharField()
    impact = serializers.FloatField()
    fr = serializers.CharField()
    en = serializers.CharField()


class CreditPredictionOutputSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    score = serializers.FloatField()
    confidence = serializers.FloatField()
    band = serializers.CharField()
    reasons = ReasonSerializer(many=True)
    model_version = serializers.CharField()
    fallback = serializers.BooleanField()


class CreditHealthOutputSerializer(serializers.Serializer):
    status = serializers.CharField()
    model_version = serializers.CharField()
    fallback = serializers.BooleanField()
    active_version = serializers.CharField(allow_null=True)
    trained_at = serializers.CharField(allow_null=True)
    age_seconds = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
