"""Top-level URLs: the admin and its back-office pages, the public health probe and the internal API.

Every app is included by its dotted path (a string): the core imports no app.
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from sunusav import apis, health, prometheus

# A URL no route matches answers JSON under /api/ (the HTML page elsewhere).
handler404 = "sunusav.api.errors.page_not_found"

urlpatterns = [
    path("health", health.health, name="health"),
    path("metrics", prometheus.MetricsView.as_view(), name="metrics"),
    path("api/alerts", include("alerts.urls")),
    path("api/credit/", include("credit.urls")),
    path("api/fraud/", include("fraud.urls")),
    path("api/queues/stats", apis.QueueStatsView.as_view(), name="queue-stats"),
    # The events live in the apps that decide on them; included by dotted path, so the core imports no app.
    path("api/events/payment", include("fraud.event_urls")),
    path("api/events/cycle-completed", include("credit.event_urls")),
    # OpenAPI: public, like /health (describes the API, grants nothing).
    path("api/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="api-docs",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    # The back-office's own pages (dashboard, "try the models") live under /admin/, before the admin's URLs.
    path("admin/", include("backoffice.urls")),
    path("admin/", admin.site.urls),
]
