"""Alerts API for the frontend: a member's alerts, newest first, a page at a time."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination

from alerts.selectors import alerts_list
from alerts.serializers import AlertListFilterSerializer, AlertOutputSerializer
from sunusav.api.schema import ERRORS, READ_ERRORS

PAGINATION_PARAMS = {"cursor", "limit"}


class AlertCursorPagination(CursorPagination):
    """Stable pages on a growing table: a cursor on (created_at, id), never an OFFSET scan."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


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
            OpenApiParameter("resolved", OpenApiTypes.BOOL, description="true: resolved only; false: open only."),
            OpenApiParameter("type", OpenApiTypes.STR, enum=["fraud_suspect", "credit_offer", "liquidity_short"]),
        ],
        responses={200: AlertOutputSerializer(many=True), 400: ERRORS[400], **READ_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
