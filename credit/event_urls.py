"""The cycle-completed event route (mounted at /api/events/cycle-completed by sunusav/urls.py)."""

from django.urls import path

from credit import apis

urlpatterns = [path("", apis.CycleCompletedApi.as_view(), name="event-cycle-completed")]
