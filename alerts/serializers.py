"""Input and output shapes of the alerts API."""

from rest_framework import serializers

from alerts.models import AlertType
from sunusav.api.serializers import StrictSerializer


class AlertListFilterSerializer(StrictSerializer):
    """Query parameters of GET /api/alerts (besides the pagination's `cursor` and `limit`)."""

    member = serializers.UUIDField(required=False, help_text="The member (table users) the alerts are about.")
    # Exactly "true" or "false" (DRF's BooleanField also takes "1", "yes", "on", "True" ...): what the schema declares.
    resolved = serializers.ChoiceField(
        choices=["true", "false"], required=False, help_text="true: resolved only; false: open only."
    )
    type = serializers.ChoiceField(choices=AlertType.choices, required=False)

    def validate_resolved(self, value: str) -> bool:
        return value == "true"


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    member_id = serializers.UUIDField(source="user_id", allow_null=True)
    alert_type = serializers.CharField()
    payload = serializers.JSONField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    resolved = serializers.BooleanField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
