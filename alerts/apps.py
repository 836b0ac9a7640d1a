from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = _("Alertes et métriques IA")

    def ready(self):
        # Django's rule: modules that touch models are imported once the app registry is ready.
        from alerts.selectors import state_metric_families
        from sunusav.prometheus import state_families_register

        state_families_register(state_metric_families)
