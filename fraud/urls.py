"""Fraud API routes (mounted at /api/fraud/)."""

from django.urls import path

from fraud import apis, apis_rules

app_name = "fraud"
urlpatterns = [
    path("check", apis.FraudCheckApi.as_view(), name="check"),
    path("batch-check", apis.FraudBatchCheckApi.as_view(), name="batch-check"),
    path("health", apis.FraudHealthApi.as_view(), name="health"),
    path("rules", apis_rules.FraudRulesApi.as_view(), name="rules"),
]
