"""Fraud API views: one small view per operation; validation in serializers, work in services."""

import json

from django.conf import settings
from rest_framework import exceptions, parsers, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from fraud.selectors import fraud_health
from fraud.serializers import (
    FraudBatchCheckInputSerializer,
    FraudCheckInputSerializer,
    FraudCheckOutputSerializer,
    FraudHealthOutputSerializer,
)
from fraud.services import InvalidCheckInput, fraud_checks_run


class NumbersNamingJSONParser(parsers.JSONParser):
    """Parse JSON, letting NaN and Infinity through so the serializer rejects them by field name.

    DRF's strict parser refuses them before any field is known, and the answer
    would not say which field was wrong.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(stream.read().decode(encoding))
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Answer JSON without weighing the Accept header: these APIs speak nothing else (~40 us a call)."""

    def select_parser(self, request, parsers):
        return parsers[0] if request.content_type.split(";")[0].strip() == parsers[0].media_type else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FraudCheckApi(APIView):
    """POST /api/fraud/check: decide on one payment (and hold it when `payment_id` names one)."""

    parser_classes = [NumbersNamingJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    def post(self, request):
        serializer = FraudCheckInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = serializer.validated_data
        try:
            (checked,) = fraud_checks_run(items=[item], token=request.auth)
        except InvalidCheckInput as exc:
            raise serializers.ValidationError(exc.errors[0]) from exc
        return Response(FraudCheckOutputSerializer((item, checked)).data)


class FraudBatchCheckApi(APIView):
    """POST /api/fraud/batch-check: decide on up to API_BATCH_LIMIT payments, results in order."""

    parser_classes = [NumbersNamingJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    def post(self, request):
        serializer = FraudBatchCheckInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["items"]
        try:
            checked = fraud_checks_run(items=items, token=request.auth)
        except InvalidCheckInput as exc:
            raise serializers.ValidationError({"items": [exc.errors.get(i, {}) for i in range(len(items))]}) from exc
        return Response({"results": FraudCheckOutputSerializer(list(zip(items, checked, strict=True)), many=True).data})


class FraudHealthApi(APIView):
    """GET /api/fraud/health: the model in service, or `degraded` when the rules decide alone."""

    def get(self, request):
        return Response(FraudHealthOutputSerializer(fraud_health()).data)
