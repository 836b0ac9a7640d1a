"""Input and output shapes of the credit API (the seed's bodies, strictly checked).

A batch of 1,000 items through DRF's field machinery costs about 30 ms, most
of the 50 ms budget, so each item first goes through `_plain_item`: a
plain-Python check of exactly the same rules that accepts only
unquestionably valid items. Anything else takes DRF's path, which produces
the error naming the field. Output serializers only pick declared keys from
already-plain dicts, for the same reason.
"""

import math

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import empty

from sunusav.api.serializers import StrictCharField, StrictFloatField, StrictIntegerField, StrictSerializer, batch_of
from sunusav.hashing import looks_like_phone, refuse_phone_number

_FLOATS = ("tontine_contributions", "mobile_tx_volume", "avg_payment_delay_days")
_INTS = ("contributions_count", "community_endorsements")
_FIELDS = frozenset(("user_id", "punctuality_rate", *_FLOATS, *_INTS))
_USER_ID_MAX = 64
# Counts far above any real member's (a contribution a day in 2,700 tontines for
# a year; endorsements from a million members), well inside 64 bits: past them
# an input is a mistake or an attack, and the answer is a 400 naming the field.
_COUNT_MAX = 1_000_000
# Past 2**53 an integer is not exactly a float: the fast path leaves it to DRF.
_MAX_EXACT_INT = 2**53


def _plain_item(data) -> dict | None:
    """Return the validated item when it is plainly valid, else None (DRF then explains)."""
    if type(data) is not dict or data.keys() != _FIELDS:
        return None
    user_id = data["user_id"]
    if (
        type(user_id) is not str
        or not 0 < len(user_id) <= _USER_ID_MAX
        or not (user_id.isascii() and user_id.isprintable())
        or user_id != user_id.strip()
        or looks_like_phone(user_id)  # refused by the serializer, which names the field
    ):
        return None
    out = {"user_id": user_id}
    for name in (*_FLOATS, "punctuality_rate"):
        value = data[name]
        kind = type(value)
        if kind is int:
            # Any int compares below math.inf, yet float(10**400) overflows.
            if not 0 <= value <= _MAX_EXACT_INT:
                return None
        elif kind is not float or not 0 <= value < math.inf:  # NaN fails the comparison
            return None
        out[name] = float(value)
    if out["punctuality_rate"] > 1:
        return None
    for name in _INTS:
        value = data[name]
        if type(value) is not int or not 0 <= value <= _COUNT_MAX:
            return None
        out[name] = value
    return out


class CreditFeaturesInputSerializer(StrictSerializer):
    """The seed's predict body: `user_id` and the six features."""

    user_id = StrictCharField(max_length=_USER_ID_MAX, allow_blank=False, validators=[refuse_phone_number])
    tontine_contributions = StrictFloatField(min_value=0)
    punctuality_rate = StrictFloatField(min_value=0, max_value=1)
    contributions_count = StrictIntegerField(
        min_value=0,
        max_value=_COUNT_MAX,
        help_text=f"Paid contributions in the feature window (at most {_COUNT_MAX:,}).",
    )
    mobile_tx_volume = StrictFloatField(min_value=0)
    avg_payment_delay_days = StrictFloatField(min_value=0)
    community_endorsements = StrictIntegerField(
        min_value=0, max_value=_COUNT_MAX, help_text=f"Community endorsements (at most {_COUNT_MAX:,})."
    )

    def run_validation(self, data=empty):
        plain = _plain_item(data)
        return plain if plain is not None else super().run_validation(data)


CreditBatchInputSerializer = batch_of(CreditFeaturesInputSerializer)


class _PlainOutputSerializer(serializers.Serializer):
    """Declares the output; represents an already-plain dict by picking its declared keys."""

    def to_representation(self, instance):
        return {name: instance[name] for name in self._declared_fields}


@extend_schema_serializer(component_name="CreditReason")
class ReasonSerializer(_PlainOutputSerializer):
    code = serializers.CharField()
    feature = serializers.CharField()
    impact = serializers.FloatField()
    fr = serializers.CharField()
    en = serializers.CharField()


class CreditPredictionOutputSerializer(_PlainOutputSerializer):
    user_id = serializers.CharField()
    score = serializers.FloatField()
    confidence = serializers.FloatField()
    band = serializers.CharField()
    reasons = ReasonSerializer(many=True)
    model_version = serializers.CharField()
    fallback = serializers.BooleanField()


class CreditBatchOutputSerializer(serializers.Serializer):
    """`{"results": [...]}`, in the order of the input items (for the OpenAPI schema)."""

    results = CreditPredictionOutputSerializer(many=True)


class CreditHealthOutputSerializer(serializers.Serializer):
    status = serializers.CharField()
    model_version = serializers.CharField()
    fallback = serializers.BooleanField()
    active_version = serializers.CharField(allow_null=True)
    trained_at = serializers.CharField(allow_null=True)
    age_seconds = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class MemberScoreReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    feature = serializers.CharField()
    fr = serializers.CharField()
    en = serializers.CharField()


class MemberScoreOutputSerializer(serializers.Serializer):
    """A member's stored score (the seed's `getScore(userId)`); nulls until first scored."""

    member_id = serializers.UUIDField()
    score = serializers.FloatField(allow_null=True)
    band = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    reasons = MemberScoreReasonSerializer(many=True)
    confidence = serializers.FloatField(allow_null=True)
    model_version = serializers.CharField(allow_null=True)
    fallback = serializers.BooleanField(allow_null=True)


# --- Cycle-completed events from the main backend -------------------------------------------


class CycleCompletedInputSerializer(StrictSerializer):
    """A tontine round has paid out: rescore its members."""

    tontine_id = serializers.UUIDField()
    round_number = StrictIntegerField(min_value=1, required=False)


class CycleCompletedOutputSerializer(serializers.Serializer):
    tontine_id = serializers.UUIDField()
    enqueued = serializers.IntegerField(help_text="Credit checks enqueued, one per member.")
