"""Top-level URLs: the admin, the public health probe and the internal API."""

from django.contrib import admin
from django.urls import include, path

from sunusav import apis, health

urlpatterns = [
    path("health", health.health, name="health"),
    path("api/credit/", include("credit.urls")),
    path("api/fraud/", include("fraud.urls")),
    path("api/queues/stats", apis.QueueStatsView.as_view(), name="queue-stats"),
    path("api/events/payment", apis.PaymentEventApi.as_view(), name="event-payment"),
    path("api/events/cycle-completed", apis.CycleCompletedApi.as_view(), name="event-cycle-completed"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
