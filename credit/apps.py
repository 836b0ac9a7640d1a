from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditConfig(AppConfig):
    name = "credit"
    verbose_name = _("Crédit")

    def ready(self):
        # Django's rule: modules that touch models are imported once the app registry is ready.
        from credit.scoring import MODEL_NAME, REASONS, credit_model_load
        from credit.training import credit_model_trainer
        from sunusav.ml.registry import registry
        from sunusav.presenters import reason_catalogue_register

        # credit.scoring imports lightgbm only inside the loader, so this stays cheap.
        registry.register_loader(MODEL_NAME, credit_model_load)
        registry.register_trainer(MODEL_NAME, credit_model_trainer)
        reason_catalogue_register({code: (fr, en) for code, fr, en in REASONS.values()})
