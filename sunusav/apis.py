"""Core API views: queue statistics (the events live in the apps that decide on them)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from sunusav.api.schema import READ_ERRORS
from sunusav.queues import get_queue_stats


class QueueStatsView(APIView):
    """GET /api/queues/stats: the seed's `getQueueStats()` shape."""

    class QueueSerializer(serializers.Serializer):
        waiting = serializers.IntegerField()
        active = serializers.IntegerField()
        completed = serializers.IntegerField()
        failed = serializers.IntegerField()

    class OutputSerializer(serializers.Serializer):
        credit = serializers.DictField()
        fraud = serializers.DictField()

    @extend_schema(responses={200: OutputSerializer, **READ_ERRORS})
    def get(self, request):
        stats = get_queue_stats()
        data = {queue: self.QueueSerializer(row).data for queue, row in stats.items()}
        return Response(self.OutputSerializer(data).data)
