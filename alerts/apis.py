"""Alerts API for the frontend: a member's alerts, newest first, a page at a time."""

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination

from alerts.selectors import alerts_list
from alerts.serializers import AlertListFilterSerializer, AlertOutputSerializer
from sunusav.api.schema import ERROR_DETAIL, ERRORS, READ_ERRORS

PAGINATION_PARAMS = {"cursor", "limit"}


class AlertCursorPagination(CursorPagination):
    """Stable pages on a growing table: a cursor on (created_at, id), never an OFFSET scan."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request):
        """`limit` is 1..max_page_size or a 400 (DRF would fall back to the default, or clamp, silently)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError({"limit": [f"Must be an integer from 1 to {self.max_page_size}."]})
        return int(raw)

    def decode_cursor(self, request):
        """A cursor whose position is not an aware timestamp is invalid (a 404), not a database error (a 500)."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                position = parse_datetime(cursor.position)
            except ValueError:
                position = None
            if position is None or position.tzinfo is None:
                raise NotFound(self.invalid_cursor_message)
        return cursor

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size, "default": self.page_size})
            if parameter["name"] == self.cursor_query_param:
                parameter["description"] = "The `next` or `previous` link's cursor; any other value is a 404."
        return parameters


class AlertListApi(ListAPIView):
    """GET /api/alerts?member=<id>&resolved=false: a member's alerts (the seed's frontend list)."""

    serializer_class = AlertOutputSerializer
    pagination_class = AlertCursorPagination

    def get_queryset(self):
        params = {k: v for k, v in self.request.query_params.items() if k not in PAGINATION_PARAMS}
        filters = AlertListFilterSerializer(data=params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return alerts_list(member_id=data.get("member"), resolved=data.get("resolved"), alert_type=data.get("type"))

    @extend_schema(
        parameters=[
            OpenApiParameter("member", OpenApiTypes.UUID, description="The member the alerts are about."),
            OpenApiParameter(
                "resolved",
                OpenApiTypes.STR,
                enum=["true", "false"],
                description="true: resolved only; false: open only.",
            ),
            OpenApiParameter("type", OpenApiTypes.STR, enum=["fraud_suspect", "credit_offer", "liquidity_short"]),
        ],
        responses={
            200: AlertOutputSerializer(many=True),
            400: ERRORS[400],
            404: OpenApiResponse(ERROR_DETAIL, description="Invalid cursor."),
            **READ_ERRORS,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
