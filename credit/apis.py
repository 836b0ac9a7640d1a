"""Credit API: one small view per operation (X-Internal-Token required by the DRF defaults)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from credit import selectors, services
from credit.serializers import (
    CreditBatchInputSerializer,
    CreditBatchOutputSerializer,
    CreditFeaturesInputSerializer,
    CreditHealthOutputSerializer,
    CreditPredictionOutputSerializer,
    CycleCompletedInputSerializer,
    CycleCompletedOutputSerializer,
    MemberScoreOutputSerializer,
)
from sunusav.api.negotiation import JSONOnlyNegotiation
from sunusav.api.renderers import OrjsonRenderer
from sunusav.api.schema import ERRORS, NOT_FOUND, READ_ERRORS
from sunusav.models import Tontine


def _output(user_id: str, prediction) -> dict:
    return {"user_id": user_id, **prediction.as_dict()}


class CreditPredictApi(APIView):
    """Score one member's features; the answer is audited in `ai_metrics`."""

    renderer_classes = [OrjsonRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(request=CreditFeaturesInputSerializer, responses={200: CreditPredictionOutputSerializer, **ERRORS})
    def post(self, request):
        serializer = CreditFeaturesInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        user_id = data.pop("user_id")
        prediction = services.prediction_audited(user_id=user_id, features=data, token=request.auth)
        return Response(CreditPredictionOutputSerializer(_output(user_id, prediction)).data)


class CreditBatchPredictApi(APIView):
    """Score up to API_BATCH_LIMIT items; results in the same order."""

    renderer_classes = [OrjsonRenderer]
    content_negotiation_class = JSONOnlyNegotiation

    @extend_schema(
        request=CreditBatchInputSerializer,
        responses={200: CreditBatchOutputSerializer, **ERRORS},
    )
    def post(self, request):
        serializer = CreditBatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["items"]
        predictions = services.predictions_audited(items=items, token=request.auth)
        results = [_output(item["user_id"], p) for item, p in zip(items, predictions, strict=True)]
        return Response({"results": CreditPredictionOutputSerializer(results, many=True).data})


class CreditHealthApi(APIView):
    """Return the active model version, its age, and `ok` or `degraded`."""

    @extend_schema(responses={200: CreditHealthOutputSerializer, **READ_ERRORS})
    def get(self, request):
        return Response(CreditHealthOutputSerializer(selectors.credit_health()).data)


class CreditMemberScoreApi(APIView):
    """GET /api/credit/members/<id>/score: the member's stored score, band, reasons and model version."""

    @extend_schema(responses={200: MemberScoreOutputSerializer, 404: NOT_FOUND, **READ_ERRORS})
    def get(self, request, member_id):
        score = selectors.member_score(member_id=member_id)
        if score is None:
            raise NotFound("Unknown member.")
        return Response(MemberScoreOutputSerializer(score).data)


class CycleCompletedApi(APIView):
    """POST /api/events/cycle-completed: enqueue a credit check for every member of the tontine."""

    @extend_schema(request=CycleCompletedInputSerializer, responses={202: CycleCompletedOutputSerializer, **ERRORS})
    def post(self, request):
        serializer = CycleCompletedInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tontine = Tontine.objects.filter(pk=serializer.validated_data["tontine_id"]).first()
        if tontine is None:
            raise serializers.ValidationError({"tontine_id": ["Unknown tontine."]})
        enqueued = services.tontine_members_rescore(tontine=tontine)
        return Response({"tontine_id": str(tontine.pk), "enqueued": enqueued}, status=status.HTTP_202_ACCEPTED)
