"""Admin pages for model versions (the back-office's "Models" section)."""

from django.contrib import admin

from sunusav import models


@admin.register(models.ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "status", "created_at", "activated_at", "activated_by"]
    list_filter = ["name", "status"]
    readonly_fields = [f.name for f in models.ModelVersion._meta.fields]

    def has_add_permission(self, request):
        return False  # versions come from training, never typed in
