"""Alerts API routes (mounted at /api/alerts)."""

from django.urls import path

from alerts import apis

app_name = "alerts"
urlpatterns = [
    path("", apis.AlertListApi.as_view(), name="list"),
]
