from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _load_fraud_model(path, manifest):
    # Imported here so onnxruntime and numpy load with the first model, not with Django.
    from fraud.detectors import load_fraud_model

    return load_fraud_model(path, manifest)


class FraudConfig(AppConfig):
    name = "fraud"
    verbose_name = _("Fraude")

    def ready(self):
        from sunusav.ml.registry import registry

        registry.register_loader("fraud", _load_fraud_model)
