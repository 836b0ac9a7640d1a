"""GET /api/credit/members/<id>/explanation (X-Internal-Token required by the DRF defaults, like its neighbours)."""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from credit.explain import member_explanation
from sunusav.api.schema import BAD_REQUEST, NOT_FOUND, READ_ERRORS


class _TextsSerializer(serializers.Serializer):
    fr = serializers.CharField()
    en = serializers.CharField()


class _ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    feature = serializers.CharField()
    fr = serializers.CharField()
    en = serializers.CharField()


class _ChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["pay_on_time", "settle_overdue", "endorsements", "mobile_money"])
    amount = serializers.FloatField(help_text="Contributions, endorsements, or XOF of mobile money.")
    fr = serializers.CharField()
    en = serializers.CharField()


class _FeatureChangeSerializer(serializers.Serializer):
    to = serializers.FloatField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.FloatField()  # `from` is a Python keyword
        return fields


class _CounterfactualSerializer(serializers.Serializer):
    changes = _ChangeSerializer(many=True)
    features = serializers.DictField(
        child=_FeatureChangeSerializer(), help_text="Each changed feature: the value now and the value scored."
    )
    new_score = serializers.FloatField()
    new_band = serializers.CharField()
    cost = serializers.FloatField(help_text="Effort measure the search minimised (see credit.explain).")


class _StoredScoreSerializer(serializers.Serializer):
    score = serializers.FloatField(allow_null=True)
    band = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class MemberExplanationOutputSerializer(serializers.Serializer):
    """Why a member's score is what it is, and the smallest change that would move it up a band."""

    member_id = serializers.UUIDField()
    score = serializers.FloatField(help_text="Score of the member's features now, by the serving model.")
    band = serializers.CharField()
    target_band = serializers.CharField(allow_null=True, help_text="One band up; null in band A.")
    reasons = _ReasonSerializer(many=True)
    message = _TextsSerializer(help_text="Plain-language message for the member, French and English.")
    counterfactual = _CounterfactualSerializer(
        allow_null=True, help_text="Null in band A, or when no change within the search bounds reaches the band."
    )
    model_version = serializers.CharField()
    fallback = serializers.BooleanField()
    stored_score = _StoredScoreSerializer(help_text="The score stored for the member (may be older).")


class MemberExplanationApi(APIView):
    """GET /api/credit/members/<id>/explanation: reasons and a counterfactual, computed by the serving model."""

    @extend_schema(
        parameters=[OpenApiParameter("member_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={
            200: MemberExplanationOutputSerializer,
            400: BAD_REQUEST,
            404: NOT_FOUND,
            **READ_ERRORS,
        },
    )
    def get(self, request, member_id):
        try:
            parsed = uuid.UUID(str(member_id))
        except ValueError:
            raise ValidationError({"member_id": ["Not a valid UUID."]}) from None
        explanation = member_explanation(member_id=parsed)
        if explanation is None:
            raise NotFound("Unknown member.")
        return Response(MemberExplanationOutputSerializer(explanation).data)
