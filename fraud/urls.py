"""Fraud API routes (mounted at /api/fraud/)."""

app_name = "fraud"
urlpatterns: list = []
