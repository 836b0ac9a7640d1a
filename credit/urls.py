"""Credit API routes (mounted at /api/credit/)."""

from django.urls import path

from credit import apis

app_name = "credit"
urlpatterns = [
    path("predict", apis.CreditPredictApi.as_view(), name="predict"),
    path("batch-predict", apis.CreditBatchPredictApi.as_view(), name="batch-predict"),
    path("health", apis.CreditHealthApi.as_view(), name="health"),
    path("members/<uuid:member_id>/score", apis.CreditMemberScoreApi.as_view(), name="member-score"),
]
