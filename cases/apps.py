from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Dossiers d'enquête")

    def ready(self):
        # Django's rule: modules that touch models are imported once the app registry is ready.
        from alerts.services import alert_resolved_listener_register
        from cases.services import alert_resolved_listener

        alert_resolved_listener_register(alert_resolved_listener)
