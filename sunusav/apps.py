from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SunusavConfig(AppConfig):
    name = "sunusav"
    verbose_name = _("SunuSàv : membres et tontines")

    def ready(self):
        from sunusav import checks  # noqa: F401  (registers system checks)
