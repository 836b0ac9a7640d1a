"""Credit API routes (mounted at /api/credit/)."""

from django.urls import path

from credit import apis, explain_apis

app_name = "credit"
urlpatterns = [
    path("predict", apis.CreditPredictApi.as_view(), name="predict"),
    path("batch-predict", apis.CreditBatchPredictApi.as_view(), name="batch-predict"),
    path("health", apis.CreditHealthApi.as_view(), name="health"),
    path("members/<uuid:member_id>/score", apis.CreditMemberScoreApi.as_view(), name="member-score"),
    # <str:>, not <uuid:>: a malformed id reaches the view and gets a 400 naming `member_id`, not a bare 404.
    path("members/<str:member_id>/explanation", explain_apis.MemberExplanationApi.as_view(), name="member-explanation"),
]
