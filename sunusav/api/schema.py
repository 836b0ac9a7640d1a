"""OpenAPI pieces every API shares: the token scheme and the error answers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class InternalTokenScheme(OpenApiAuthenticationExtension):
    """Describe X-Internal-Token as an API key in a header."""

    target_class = "sunusav.api.auth.InternalTokenAuthentication"
    name = "InternalToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Internal-Token"}


class BoundedListScheme(OpenApiSerializerFieldExtension):
    """Declare a `many=True` field's bounds: `minItems` / `maxItems` from allow_empty, min_length, max_length.

    drf-spectacular maps them on ListField but not on a nested serializer's ListSerializer
    (`batch_of`'s `items`), so the schema said any number of items while the API refuses 0 and > API_BATCH_LIMIT.
    """

    target_class = "rest_framework.serializers.ListSerializer"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if direction != "request":
            return schema
        min_items = max(field.min_length or 0, 0 if field.allow_empty else 1)
        if min_items:
            schema["minItems"] = min_items
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
        return schema


ERROR_DETAIL = inline_serializer(
    name="ErrorDetail",
    fields={"detail": serializers.CharField(), "code": serializers.CharField(required=False)},
)

BAD_REQUEST = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Invalid input: an object keyed by the fields at fault (unknown fields, wrong types, "
    "NaN/infinities, out-of-range values), each with a list of messages; `detail` for unparsable JSON.",
)
ERRORS = {
    400: BAD_REQUEST,
    401: OpenApiResponse(ERROR_DETAIL, description="Missing, empty or wrong X-Internal-Token."),
    413: OpenApiResponse(ERROR_DETAIL, description="Body larger than API_MAX_BODY_BYTES."),
    415: OpenApiResponse(ERROR_DETAIL, description="Body not sent as application/json."),
    429: OpenApiResponse(ERROR_DETAIL, description="Rate limit of this token reached; see Retry-After."),
    503: OpenApiResponse(ERROR_DETAIL, description="Database unreachable; retry after Retry-After seconds."),
}
READ_ERRORS = {code: ERRORS[code] for code in (401, 429, 503)}
NOT_FOUND = OpenApiResponse(ERROR_DETAIL, description="Unknown member.")
CONFLICT = {409: OpenApiResponse(OpenApiTypes.OBJECT, description="Payment id already reported with another body.")}


def api_paths_only(endpoints, **kwargs):
    """Keep /api/ operations in the schema (/metrics speaks Prometheus text, /health is a bare probe)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]


def strict_request_bodies(result, **kwargs):
    """Mark request bodies `additionalProperties: false`: the serializers reject unknown fields."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
