"""Core API views: integration events from the main backend, queue statistics."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from sunusav.api.schema import CONFLICT, ERRORS, READ_ERRORS
from sunusav.models import Member, Tontine
from sunusav.queues import get_queue_stats
from sunusav.serializers import (
    CycleCompletedInputSerializer,
    CycleCompletedOutputSerializer,
    PaymentEventInputSerializer,
    PaymentEventOutputSerializer,
)
from sunusav.services import PaymentConflict, payment_event_process, tontine_members_rescore


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


class CycleCompletedApi(APIView):
    """POST /api/events/cycle-completed: enqueue a credit check for every member of the tontine."""

    @extend_schema(request=CycleCompletedInputSerializer, responses={202: CycleCompletedOutputSerializer, **ERRORS})
    def post(self, request):
        serializer = CycleCompletedInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tontine = Tontine.objects.filter(pk=serializer.validated_data["tontine_id"]).first()
        if tontine is None:
            raise serializers.ValidationError({"tontine_id": ["Unknown tontine."]})
        enqueued = tontine_members_rescore(tontine=tontine)
        return Response({"tontine_id": str(tontine.pk), "enqueued": enqueued}, status=status.HTTP_202_ACCEPTED)
