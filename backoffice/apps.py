from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The composition layer: back-office pages, dashboard, model governance pages, demo world."""

    name = "backoffice"
    verbose_name = _("Back-office des risques")

    def ready(self):
        # Django's rule: modules that touch models are imported once the app registry is ready.
        from backoffice.labels import labels_register_all

        labels_register_all()  # feature, metric, stage and pattern codes as labels on every page
