"""Strict input building blocks shared by every API.

Bad input gets a 400 naming the field: unknown fields, strings where numbers
belong, booleans posing as numbers, NaN and infinities, values out of range.
Every integer is bounded: a field with a meaning declares its own range, and
any other stays within a signed 64-bit integer (what orjson, PostgreSQL's
bigint and SQLite store), so no integer can pass validation and break the
audit write later.
"""

import math

from django.conf import settings
from rest_framework import serializers

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class StrictIntegerField(serializers.IntegerField):
    """An integer that must arrive as a JSON integer (not a string, float or bool).

    Unless the field says otherwise, it lies in [INT64_MIN, INT64_MAX] (the
    bounds show in the OpenAPI schema as `minimum`/`maximum`).
    """

    default_error_messages = {"type": "Must be a JSON integer."}

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", INT64_MIN)
        kwargs.setdefault("max_value", INT64_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            if isinstance(data, float) and data.is_integer() and math.isfinite(data):
                data = int(data)
            else:
                self.fail("type")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A finite number that must arrive as a JSON number (not a string or bool)."""

    default_error_messages = {
        "type": "Must be a JSON number.",
        "finite": "Must be a finite number.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("type")
        try:
            finite = math.isfinite(data)
        except OverflowError:  # a JSON integer beyond any float
            finite = False
        if not finite:
            self.fail("finite")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """A serializer that rejects fields it does not declare."""

    default_error_messages = {"unknown": "Unknown field."}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [self.error_messages["unknown"]] for name in unknown})
        return super().to_internal_value(data)


def batch_of(item_serializer: type[serializers.Serializer]) -> type[StrictSerializer]:
    """Return a `{"items": [...]}` serializer of 1..API_BATCH_LIMIT items."""

    class BatchSerializer(StrictSerializer):
        items = item_serializer(many=True, allow_empty=False, max_length=settings.API_BATCH_LIMIT)

    BatchSerializer.__name__ = f"{item_serializer.__name__.removesuffix('Serializer')}BatchSerializer"
    return BatchSerializer


class StrictCharField(serializers.CharField):
    """A string that must arrive as a JSON string (DRF's CharField turns 0 or true into "0", "True")."""

    default_error_messages = {"type": "Must be a JSON string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("type")
        return super().to_internal_value(data)
