"""Credit API: one small view per operation (X-Internal-Token required by the DRF defaults)."""

from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from credit import selectors, services
from credit.serializers import (
    CreditBatchInputSerializer,
    CreditFeaturesInputSerializer,
    CreditHealthOutputSerializer,
    CreditPredictionOutputSerializer,
)


class NonFiniteTolerantJSONParser(JSONParser):
    """Parse NaN/Infinity literals so the field's own check rejects them by name."""

    strict = False


def _output(user_id: str, prediction) -> dict:
    return {"user_id": user_id, **prediction.as_dict()}


class CreditPredictApi(APIView):
    """Score one member's features; the answer is audited in `ai_metrics`."""

    parser_classes = [NonFiniteTolerantJSONParser]

    def post(self, request):
        serializer = CreditFeaturesInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        user_id = data.pop("user_id")
        prediction = services.prediction_audited(user_id=user_id, features=data, token=request.auth)
        return Response(CreditPredictionOutputSerializer(_output(user_id, prediction)).data)


class CreditBatchPredictApi(APIView):
    """Score up to API_BATCH_LIMIT items; results in the same order."""

    parser_classes = [NonFiniteTolerantJSONParser]

    def post(self, request):
        serializer = CreditBatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["items"]
        predictions = services.predictions_audited(items=items, token=request.auth)
        results = [_output(item["user_id"], p) for item, p in zip(items, predictions, strict=True)]
        return Response({"results": CreditPredictionOutputSerializer(results, many=True).data})


class CreditHealthApi(APIView):
    """Return the active model version, its age, and `ok` or `degraded`."""

    def get(self, request):
        return Response(CreditHealthOutputSerializer(selectors.credit_health()).data)
