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
    "sim_swap": _("échange de carte SIM"),
    "agent_deposit_splitting": _("dépôt fractionné par un agent"),
    "mule_chain": _("chaîne de mules"),
}

# The demo world's honest segments (backoffice.demo.generator.HONEST_SEGMENTS; "ordinary": none), as the fraud
# card's per-segment false-positive rates name them.
SEGMENT_LABELS = {
    "ordinary": _("membres ordinaires"),
    "vendor": _("vendeurs du marché"),
    "collector": _("bénéficiaires de la cagnotte"),
    "phone_replacement": _("téléphone remplacé"),
    "traveller": _("commerçants en voyage"),
    "salary_day": _("jours de paie"),
    "feast_day": _("jours de fête (Tabaski, Magal)"),
}

# The fraud reasons' ids (fraud.rules.RULES, fraud.detectors), as a queue's one-line reason column says them.
REASON_LABELS = {
    "invoice_burst": _("rafale de factures"),
    "new_device_location_unusual_amount": _("nouvel appareil et lieu"),
    "rapid_repeat": _("paiements répétés"),
    "structuring": _("fractionnement"),
    "near_reporting_limit": _("juste sous le seuil déclaratif"),
    "very_large_amount": _("montant très élevé"),
    "anomaly": _("anomalie (modèle)"),
    "supervised": _("modèle supervisé"),
    "scoring_failed": _("échec du score"),
    # What else can be a case's main reason (cases.models.Case.top_reason): a ring, a liquidity alert's trigger.
    "endorsement_ring": _("cercle de recommandations"),
    "round_shortfall": _("manque au prochain pot"),
    "rotation_exposure": _("exposition de la rotation"),
    "liquidity_short": _("manque de liquidité"),
}

# The keys of audit rows' before/after and of metrics' details (services' `action_record` and
# `metric_record` calls), as an object's page lists them ("Issue : faux positif").
FIELD_LABELS = {
    "ab_share": _("part A/B"),
    "action": _("action"),
    "active_id": _("version en service (n°)"),
    "active_version": _("version en service"),
    "actor": _("auteur"),
    "after": _("après"),
    "alert_id": _("alerte"),
    "alert_type": _("type d'alerte"),
    "arm": _("bras A/B"),
    "band": _("bande"),
    "before": _("avant"),
    "challenger_version": _("version challenger"),
    "cleared_challenger": _("challenger retiré"),
    "computed_at": _("calculé le"),
    "confidence": _("confiance"),
    "credit_score": _("score de crédit"),
    "credit_score_updated_at": _("score mis à jour le"),
    "cutoff": _("date de référence"),
    "decision": _("décision"),
    "default_action_applied": _("action par défaut appliquée"),
    "error": _("erreur"),
    "expired": _("blocage expiré"),
    "fallback": _("règles de secours"),
    "feature": _("variable"),
    "features": _("variables"),
    "input_hash": _("empreinte de la requête"),
    "is_fraud": _("fraude selon le modèle"),
    "isolation_score": _("score d'anomalie"),
    "latency_ms": _("durée (ms)"),
    "loan_id": _("prêt"),
    "model": _("modèle"),
    "model_version": _("version du modèle"),
    "note": _("note"),
    "origin_request_id": _("requête d'origine"),
    "outcome": _("issue"),
    "payment_id": _("paiement"),
    "previous_id": _("version précédente (n°)"),
    "previous_version": _("version précédente"),
    "priority": _("priorité"),
    "queue": _("file"),
    "queued": _("mis en file"),
    "reason": _("motif"),
    "reasons": _("motifs"),
    "replaced_challenger": _("challenger remplacé"),
    "replay": _("rejeu"),
    "request_id": _("requête"),
    "rescored": _("scores recalculés"),
    "resolved": _("résolue"),
    "resolved_at": _("résolue le"),
    "role": _("rôle"),
    "run_id": _("calcul"),
    "score": _("score"),
    "selection": _("sélection"),
    "shadow": _("réponse du challenger (non appliquée)"),
    "source": _("origine"),
    "stages_us": _("durée par étape"),
    "status": _("statut"),
    "task_name": _("tâche"),
    "token": _("jeton"),
    "user_id": _("membre"),
    "value": _("valeur"),
    "warning": _("alerte de dérive"),
    "window": _("fenêtre"),
}


def _value_labels() -> dict:
    """Codes that services write as values, by their labels: decisions, outcomes, statuses, types, sources."""
    # Imported here, from `labels_register_all` at start-up: this module is imported while the apps load.
    from alerts.models import AlertType
    from alerts.services import Outcome
    from sunusav.models import AnalystAction, ModelVersion, Payment

    labels = {
        "hold": _("bloquer"),
        "review": _("à vérifier"),
        "allow": _("accepter"),
        "credit_check": _("calcul du score de crédit"),
        "champion": _("champion"),
        "challenger": _("challenger"),
        "system": _("le système"),
        "day": _("jour"),
        "week": _("semaine"),
    }
    for choices in (Outcome.choices, Payment.Status.choices, ModelVersion.Status.choices, AlertType.choices):
        labels.update(dict(choices))
    labels.update(dict(AnalystAction._meta.get_field("action").choices))
    labels.update(MODEL_NAME_LABELS)
    return labels


MODEL_NAME_LABELS = {"credit": _("crédit"), "fraud": _("fraude")}

# The score beside the features in drift monitoring (sunusav.ml.drift.SCORE).
DRIFT_LABELS = {"score": _("score du modèle")}


def labels_register_all() -> None:
    """Register every catalogue of labels with `sunusav.presenters` (from `BackofficeConfig.ready`)."""
    labels_register("feature", {**CREDIT_FEATURE_LABELS, **FRAUD_FEATURE_LABELS, **DRIFT_LABELS})
    labels_register("metric", METRIC_LABELS)
    labels_register("stage", STAGE_LABELS)
    labels_register("fraud_pattern", FRAUD_PATTERN_LABELS)
    labels_register("reason", REASON_LABELS)
    labels_register("field", FIELD_LABELS)
    labels_register("value", _value_labels())
