"""What the back-office pages call the product's codes: metric keys, decision stages, fraud patterns, features.

Pages never show a code where a person reads: each code below has a French
label (the source string) and its English translation in locale/en. The
features' labels live beside the features themselves (`credit.features`,
`fraud.features`); `labels_register_all` hands every catalogue to
`sunusav.presenters` at start-up, so pages of the lower layers (the alert
queue, the held payments) show the same labels without importing an app.
"""

from django.utils.translation import gettext_lazy as _

from credit.features import FEATURE_LABELS as CREDIT_FEATURE_LABELS
from fraud.features import FEATURE_LABELS as FRAUD_FEATURE_LABELS
from sunusav.presenters import labels_register

# ai_metrics keys (credit.services, credit.selectors, fraud.services, alerts.services,
# credit.endorsements, backoffice.drift).
METRIC_LABELS = {
    "credit_prediction": _("score de crédit en temps réel"),
    "credit_score": _("score de crédit (calcul en lot)"),
    "credit_score_run": _("calcul des scores en lot"),
    "fraud_check": _("vérification de fraude"),
    "payment_review": _("décision sur un paiement retenu"),
    "alert_resolved": _("alerte résolue"),
    "endorsement_default": _("défaut d'un membre recommandé"),
    "psi": _("dérive (PSI)"),
}

# sunusav.timings.STAGES, plus the sum of a decision's stages.
STAGE_LABELS = {
    "validation": _("requête"),
    "features": _("variables"),
    "model": _("modèle"),
    "rules": _("règles"),
    "writes": _("écritures"),
    "audit": _("journal d'audit"),
    "total": _("total"),
}

# The demo world's fraud patterns (backoffice.demo.generator.FRAUD_PATTERNS), as the fraud card's
# per-pattern metrics and the demo's ground truth name them.
FRAUD_PATTERN_LABELS = {
    "account_takeover": _("prise de contrôle du compte"),
    "invoice_burst": _("rafale de factures"),
    "rapid_repeat": _("paiements répétés"),
    "structuring": _("fractionnement"),
}

# The score beside the features in drift monitoring (sunusav.ml.drift.SCORE).
DRIFT_LABELS = {"score": _("score du modèle")}


def labels_register_all() -> None:
    """Register every catalogue of labels with `sunusav.presenters` (from `BackofficeConfig.ready`)."""
    labels_register("feature", {**CREDIT_FEATURE_LABELS, **FRAUD_FEATURE_LABELS, **DRIFT_LABELS})
    labels_register("metric", METRIC_LABELS)
    labels_register("stage", STAGE_LABELS)
    labels_register("fraud_pattern", FRAUD_PATTERN_LABELS)
