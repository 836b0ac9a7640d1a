"""The payment event route (mounted at /api/events/payment by sunusav/urls.py)."""

from django.urls import path

from fraud import apis

urlpatterns = [path("", apis.PaymentEventApi.as_view(), name="event-payment")]
