from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The composition layer: back-office pages, dashboard, model governance pages, demo world."""

    name = "backoffice"
    verbose_name = _("Back-office des risques")
