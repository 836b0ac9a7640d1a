"""Fraud API views: one small view per operation; validation in serializers, work in services."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from fraud.selectors import fraud_health
from fraud.serializers import (
    FraudBatchCheckInputSerializer,
    FraudBatchCheckOutputSerializer,
    FraudCheckInputSerializer,
    FraudCheckOutputSerializer,
    FraudHealthOutputSerializer,
    PaymentEventInputSerializer,
    PaymentEventOutputSerializer,
)
from fraud.services import (
    InvalidCheckInput,
    PaymentCheckConflict,
    PaymentConflict,
    fraud_checks_run,
    payment_event_process,
)
from sunusav.api.negotiation import JSONOnlyNegotiation
from sunusav.api.renderers import OrjsonRenderer
from sunusav.api.schema import CONFLICT, ERRORS, READ_ERRORS
from sunusav.models import Member


class FraudCheckApi(APIView):
    """POST /api/fraud/check: decide on one payment (and hold it when `payment_id` names one)."""

    renderer_classes = [OrjsonRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(request=FraudCheckInputSerializer, responses={200: FraudCheckOutputSerializer, **ERRORS, **CONFLICT})
    def post(self, request):
        serializer = FraudCheckInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = serializer.validated_data
        try:
            (checked,) = fraud_checks_run(items=[item], token=request.auth)
        except InvalidCheckInput as exc:
            raise serializers.ValidationError(exc.errors[0]) from exc
        except PaymentCheckConflict:
            return _conflict()
        return Response(FraudCheckOutputSerializer((item, checked)).data)


class FraudBatchCheckApi(APIView):
    """POST /api/fraud/batch-check: decide on up to API_BATCH_LIMIT payments, results in order."""

    renderer_classes = [OrjsonRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(
        request=FraudBatchCheckInputSerializer, responses={200: FraudBatchCheckOutputSerializer, **ERRORS, **CONFLICT}
    )
    def post(self, request):
        serializer = FraudBatchCheckInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["items"]
        try:
            checked = fraud_checks_run(items=items, token=request.auth)
        except InvalidCheckInput as exc:
            raise serializers.ValidationError({"items": [exc.errors.get(i, {}) for i in range(len(items))]}) from exc
        except PaymentCheckConflict:
            return _conflict()
        return Response({"results": FraudCheckOutputSerializer(list(zip(items, checked, strict=True)), many=True).data})


def _conflict() -> Response:
    return Response(
        {"payment_id": ["This payment was already checked with a different body."]}, status=status.HTTP_409_CONFLICT
    )


class FraudHealthApi(APIView):
    """GET /api/fraud/health: the model in service, or `degraded` when the rules decide alone."""

    @extend_schema(responses={200: FraudHealthOutputSerializer, **READ_ERRORS})
    def get(self, request):
        return Response(FraudHealthOutputSerializer(fraud_health()).data)


class PaymentEventApi(APIView):
    """POST /api/events/payment: store a payment, decide on it at once, hold it if suspicious.

    The same `payment_id` with the same body answers the first decision again;
    with a different body, 409. An invoice may carry its `expires_at`: a hold
    still unreviewed then takes HOLD_EXPIRY_DEFAULT (fraud.holds).
    """

    @extend_schema(
        request=PaymentEventInputSerializer, responses={200: PaymentEventOutputSerializer, **ERRORS, **CONFLICT}
    )
    def post(self, request):
        serializer = PaymentEventInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = Member.objects.filter(pk=data["user_id"]).first()
        if member is None:
            raise serializers.ValidationError({"user_id": ["Unknown member."]})
        try:
            checked = payment_event_process(data=data, member=member, token=request.auth)
        except PaymentConflict:
            return Response(
                {"payment_id": ["This payment id was already reported with a different body."]},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(PaymentEventOutputSerializer(checked).data)
