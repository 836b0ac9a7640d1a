"""The back-office pages, mounted under /admin/ before the admin's own URLs (sunusav/urls.py)."""

from django.contrib import admin
from django.urls import path

from backoffice import views

app_name = "backoffice"

urlpatterns = [
    path("dashboard/", admin.site.admin_view(views.dashboard), name="dashboard"),
    path("try-models/", admin.site.admin_view(views.try_models), name="try_models"),
]
