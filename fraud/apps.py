from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FraudConfig(AppConfig):
    name = "fraud"
    verbose_name = _("Fraude")

    def ready(self):
        # Django's rule: modules that touch models are imported once the app registry is ready.
        from alerts.models import AlertType
        from alerts.services import alert_decider_register
        from fraud.detectors import MODEL_NAME, load_fraud_model
        from fraud.services import fraud_alert_decide
        from fraud.training import fraud_model_trainer
        from sunusav.ml.registry import registry

        alert_decider_register(AlertType.FRAUD_SUSPECT, fraud_alert_decide)
        registry.register_loader(MODEL_NAME, load_fraud_model)
        registry.register_trainer(MODEL_NAME, fraud_model_trainer)
