"""The Models section's words: model cards, metrics and retraining results in the page's language.

A model card (`manifest.json`) is written by training in English with code
names for its keys (`held_out.model.auc`, `n_train`, `source: "database:
closed loans"`); the job result of a retraining says why in an English
sentence (`sunusav.ml.training.promotion_decide`). Neither changes: this
module reads their structured fields and says them in French (English in
locale/en), with numbers the page's way. A key or value it does not know is
shown as it is rather than hidden.
"""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backoffice.holdout import METRIC_NAMES
from backoffice.labels import FRAUD_PATTERN_LABELS, SEGMENT_LABELS
from sunusav.models import ModelVersion
from sunusav.presenters import label_of, model_label, number_text

MODEL_DESCRIPTIONS = {
    "credit": gettext_lazy("Classifieur LightGBM du remboursement, calibré en probabilité de remboursement"),
    "fraud": gettext_lazy(
        "Forêt d'isolement (scikit-learn, réglages de PyOD IForest) et règles, combinées en « ou » probabiliste"
    ),
}
# A fraud card whose supervised layer serves (card["layers"]["serving"]: fraud.training).
SUPERVISED_DESCRIPTION = gettext_lazy(
    "Couche supervisée LightGBM (apprise des verdicts et de l'historique étiqueté, calibrée) sur le score de la "
    "forêt d'isolement, les règles publiées et l'historique propre du membre ; les règles de sortie décident"
)
# credit.training writes this limitation into every credit card.
MODEL_LIMITATIONS = {
    "credit": gettext_lazy(
        "Appris sur les offres passées seulement : les membres à qui aucun prêt n'a été proposé ne sont pas vus. "
        "Les règles de secours rules-v1 répondent quand ce modèle est inutilisable."
    ),
}

# Each part of a metric's dotted key (selectors.flatten_metrics), as a label.
METRIC_PARTS = {
    # credit
    "held_out": gettext_lazy("jeu de test"),
    "model": gettext_lazy("modèle"),
    "rules": gettext_lazy("règles de secours"),
    "logistic_regression": gettext_lazy("régression logistique"),
    "accuracy": gettext_lazy("exactitude au seuil"),
    "auc": "AUC",
    "brier": gettext_lazy("score de Brier"),
    "ks": "KS",
    "threshold": gettext_lazy("seuil"),
    "n_train": gettext_lazy("lignes d'entraînement"),
    "n_calibration": gettext_lazy("lignes de calibration"),
    "n_test": gettext_lazy("lignes de test"),
    "repaid_rate": gettext_lazy("taux de remboursement"),
    "split": gettext_lazy("découpage"),
    "active_before": gettext_lazy("version en service avant l'entraînement"),
    "version": gettext_lazy("version"),
    "auc_on_this_held_out": gettext_lazy("son AUC sur ce jeu de test"),
    # fraud
    "pr_auc": "PR-AUC",
    "pr_auc_anomaly_only": gettext_lazy("PR-AUC (anomalie seule)"),
    "pr_auc_on_this_test": gettext_lazy("son PR-AUC sur ce jeu de test"),
    "validation_pr_auc": gettext_lazy("PR-AUC (jeu de validation)"),
    "validation": gettext_lazy("jeu de validation"),
    "precision": gettext_lazy("précision"),
    "recall": gettext_lazy("rappel"),
    "fpr": gettext_lazy("taux de faux positifs"),
    "best_recall_at_precision_0_90": gettext_lazy("meilleur rappel à précision d'au moins 0,90"),
    "confusion": gettext_lazy("matrice de confusion"),
    "tp": gettext_lazy("vrais positifs"),
    "fp": gettext_lazy("faux positifs"),
    "tn": gettext_lazy("vrais négatifs"),
    "fn": gettext_lazy("faux négatifs"),
    "detectable_ceiling": gettext_lazy("part des fraudes détectables en temps réel"),
    "recall_of_detectable": gettext_lazy("rappel des fraudes détectables"),
    "review_or_hold_recall": gettext_lazy("rappel (à vérifier ou bloqué)"),
    "review_rate": gettext_lazy("part des paiements à vérifier"),
    "hold_threshold": gettext_lazy("seuil de blocage"),
    "review_threshold": gettext_lazy("seuil de vérification"),
    "n": gettext_lazy("paiements évalués"),
    "n_fraud": gettext_lazy("paiements frauduleux"),
    "per_pattern": gettext_lazy("par motif de fraude"),
    "recall_hold": gettext_lazy("rappel (bloqué)"),
    "recall_review_or_hold": gettext_lazy("rappel (à vérifier ou bloqué)"),
    "counts": gettext_lazy("effectifs"),
    # fraud, by honest segment and typology (fraud.measure_decisions, on the test half)
    "by_segment_and_typology": gettext_lazy("par segment et par motif"),
    "hold": gettext_lazy("bloqué"),
    "hold_or_review": gettext_lazy("bloqué ou à vérifier"),
    "by_typology": gettext_lazy("par motif de fraude"),
    "by_segment": gettext_lazy("par segment de membres honnêtes"),
    "fpr_hold": gettext_lazy("taux de faux positifs (bloqué)"),
    "fpr_hold_or_review": gettext_lazy("taux de faux positifs (bloqué ou à vérifier)"),
    "recall_hold_or_review": gettext_lazy("rappel (bloqué ou à vérifier)"),
    "unlabelled": gettext_lazy("sans motif"),
    **FRAUD_PATTERN_LABELS,
    **SEGMENT_LABELS,
}
METRIC_VALUES = {"time": gettext_lazy("chronologique"), "stratified": gettext_lazy("stratifié")}

# A card's training data (credit: `training_data`; fraud: `counts`).
TRAINING_DATA_LABELS = {
    "source": gettext_lazy("source des données"),
    "rows": gettext_lazy("lignes"),
    "sha256": gettext_lazy("empreinte des données (sha256)"),
    "payments": gettext_lazy("paiements"),
    "fit": gettext_lazy("paiements d'entraînement de la forêt"),
    "validation": gettext_lazy("paiements de validation"),
    "test": gettext_lazy("paiements de test"),
    "labeled": gettext_lazy("paiements étiquetés"),
    "labeled_fraud": gettext_lazy("fraudes étiquetées"),
    "fraud_excluded_from_fit": gettext_lazy("fraudes écartées de l'entraînement"),
    "analyst_labels": gettext_lazy("verdicts d'analystes"),
}
SOURCES = {"database: closed loans": gettext_lazy("base de données : prêts clos (remboursés ou en défaut)")}

# The few metrics worth a column on the overview (selectors.headline_metrics' keys).
HEADLINE_LABELS = {
    "auc": "AUC",
    "pr_auc": "PR-AUC",
    "recall_hold": gettext_lazy("rappel"),
    "recall": gettext_lazy("rappel"),
    "precision": gettext_lazy("précision"),
    "fpr": gettext_lazy("faux positifs"),
    "brier": "Brier",
    "ks": "KS",
    "accuracy": gettext_lazy("exactitude"),
}


def value_text(value) -> str:
    """Return a card's value readably: numbers the page's way, None as "—", known codes as words."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("oui") if value else _("non")
    if isinstance(value, int | float):
        return number_text(value)
    text = str(value)
    label = METRIC_VALUES.get(text)
    return str(label) if label is not None else text


def metric_key_label(key: str) -> str:
    """Return a dotted metric key as words: "held_out.model.auc" -> "jeu de test › modèle › AUC"."""
    parts = []
    for part in key.replace("[", ".").replace("]", "").split("."):
        label = METRIC_PARTS.get(part)
        parts.append(str(label) if label is not None else part)
    return " › ".join(parts)


def metric_rows(flat: list[tuple[str, object]]) -> list[dict]:
    """Return flattened card metrics as rows: label, value, and the key (kept for a tooltip)."""
    return [{"key": key, "label": metric_key_label(key), "value": value_text(value)} for key, value in flat]


def headline_texts(pairs: list[tuple[str, object]]) -> list[tuple[str, str]]:
    """Return an overview's headline metrics as (label, value) pairs."""
    return [(str(HEADLINE_LABELS.get(key, key)), value_text(value)) for key, value in pairs]


def training_data_rows(data: dict) -> list[dict]:
    """Return a card's training data (`training_data` or `counts`) as labelled rows."""
    rows = []
    for key, value in data.items():
        label = TRAINING_DATA_LABELS.get(key)
        if key == "source" and isinstance(value, str):
            source = SOURCES.get(value)
            if source is None and value.startswith("csv: "):
                source = _("fichier CSV : %(name)s") % {"name": value[5:]}
            value = str(source) if source is not None else value
        rows.append({"key": key, "label": str(label) if label is not None else key, "value": value_text(value)})
    return rows


def card_for_display(model_version: ModelVersion) -> dict:
    """Return what the version page shows of the card, in the page's language."""
    card = model_version.manifest or {}
    trained_at = card.get("trained_at")
    description = MODEL_DESCRIPTIONS.get(model_version.name)
    if (card.get("layers") or {}).get("serving") == "supervised":
        description = SUPERVISED_DESCRIPTION
    limitation = MODEL_LIMITATIONS.get(model_version.name) if card.get("limitations") else None
    return {
        "title": version_title(model_version),
        "description": str(description) if description is not None else card.get("model", ""),
        "trained_at": parse_datetime(trained_at) if isinstance(trained_at, str) else None,
        "features": [label_of("feature", f) for f in card.get("features") or []],
        "limitations": str(limitation) if limitation is not None else card.get("limitations", ""),
    }


def version_title(model_version: ModelVersion) -> str:
    """Return "Modèle de crédit · 20261124-182210-434-b7c4e4"."""
    return _("Modèle de %(name)s · %(version)s") % {
        "name": model_label(model_version.name),
        "version": model_version.version,
    }


# --- A retraining's result (sunusav.ml.training.TrainResult.summary) ---------------------------------


def retrain_result_text(result: dict | None) -> str:
    """Say in the page's language why a retraining did or did not put its new version in service.

    Built from the result's fields (`activated`, `metric`, `score`,
    `active_version`, `active_score_on_same_rows`); a result without them (a
    run recorded before they existed) shows its own `why` as it is.
    """
    if not result:
        return ""
    fields = ("activated", "metric", "score", "active_version", "active_score_on_same_rows")
    if any(key not in result for key in fields):
        return str(result.get("why") or "")
    metric = METRIC_NAMES.get(result["metric"], result["metric"])
    score, active, active_score = result["score"], result["active_version"], result["active_score_on_same_rows"]
    numbers = {
        "metric": metric,
        "score": number_text(score),
        "active": active or "—",
        "active_score": number_text(active_score),
    }
    beats = isinstance(score, int | float) and isinstance(active_score, int | float) and score > active_score
    if result["activated"]:
        if active is None or active_score is None:
            return _("Mise en service : aucun modèle utilisable n'était en service pour la comparer.")
        if beats:
            return (
                _(
                    "Mise en service : sur les mêmes lignes de test, son %(metric)s (%(score)s) dépasse celui de la "
                    "version en service %(active)s (%(active_score)s)."
                )
                % numbers
            )
        return (
            _(
                "Mise en service à la demande, sans tenir compte de la comparaison : %(metric)s %(score)s contre "
                "%(active_score)s pour %(active)s sur les mêmes lignes de test."
            )
            % numbers
        )
    return (
        _(
            "Version en service %(active)s gardée : sur les mêmes lignes de test, son %(metric)s (%(active_score)s) "
            "est au moins celui de la nouvelle version (%(score)s)."
        )
        % numbers
    )
