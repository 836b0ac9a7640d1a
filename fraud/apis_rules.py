"""GET /api/fraud/rules (issue 15): the published ruleset version and its rules, as the checks apply them."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from fraud.ruleset_selectors import ruleset_published
from sunusav.api.schema import READ_ERRORS


class RuleOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="rule_id")
    name_fr = serializers.CharField()
    name_en = serializers.CharField()
    reason_fr = serializers.CharField()
    reason_en = serializers.CharField()
    expression = serializers.CharField()
    effect = serializers.ChoiceField(choices=["weight", "hold", "review", "allow"])
    weight = serializers.FloatField()
    priority = serializers.IntegerField()
    enabled = serializers.BooleanField()


class RulesetOutputSerializer(serializers.Serializer):
    ruleset_version = serializers.CharField(source="label", allow_null=True)
    number = serializers.IntegerField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    rules = RuleOutputSerializer(many=True, source="rules.all")


class FraudRulesApi(APIView):
    """GET /api/fraud/rules: the published version (`ruleset_version` as in every check's answer) and its rules."""

    @extend_schema(responses={200: RulesetOutputSerializer, **READ_ERRORS})
    def get(self, request):
        published = ruleset_published()
        if published is None:  # a database without v1 (the checks then apply the built-in v1)
            return Response({"ruleset_version": None, "number": None, "published_at": None, "rules": []})
        return Response(RulesetOutputSerializer(published).data)
