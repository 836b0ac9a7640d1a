from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditConfig(AppConfig):
    name = "credit"
    verbose_name = _("Crédit")

    def ready(self):
        from credit.scoring import MODEL_NAME, credit_model_load
        from sunusav.ml.registry import registry

        # credit.scoring imports lightgbm only inside the loader, so this stays cheap.
        registry.register_loader(MODEL_NAME, credit_model_load)
