"""The Models section's words: a retraining's result, card metrics and training data said in French, then English."""

import re

import pytest
from django.utils import translation

from backoffice.model_cards import metric_key_label, metric_rows, retrain_result_text, training_data_rows

KEPT = {
    "model": "credit",
    "version": "20261201-213545-009-4937f6",
    "activated": False,
    "why": "kept 20261124-182210-434-b7c4e4: its held-out auc 0.7563 >= 0.7324 on the same rows",
    "rows": 147,
    "metric": "auc",
    "score": 0.7324,
    "active_version": "20261124-182210-434-b7c4e4",
    "active_score_on_same_rows": 0.7563,
}


def _fr(text: str) -> str:
    return text.replace("\u00a0", " ")


@pytest.mark.parametrize(
    "result, french",
    [
        (
            KEPT,
            "Version en service 20261124-182210-434-b7c4e4 gardée : sur les mêmes lignes de test, son AUC (0,7563) "
            "est au moins celui de la nouvelle version (0,7324).",
        ),
        (
            {**KEPT, "activated": True, "score": 0.8, "why": "held-out auc 0.8 beats active"},
            "Mise en service : sur les mêmes lignes de test, son AUC (0,8) dépasse celui de la version en service "
            "20261124-182210-434-b7c4e4 (0,7563).",
        ),
        (
            {**KEPT, "activated": True, "why": "activated on request (--activate)"},
            "Mise en service à la demande, sans tenir compte de la comparaison : AUC 0,7324 contre 0,7563 pour "
            "20261124-182210-434-b7c4e4 sur les mêmes lignes de test.",
        ),
        (
            {**KEPT, "activated": True, "active_version": None, "active_score_on_same_rows": None},
            "Mise en service : aucun modèle utilisable n'était en service pour la comparer.",
        ),
        (
            {**KEPT, "metric": "pr_auc", "score": 0.91, "active_score_on_same_rows": 0.9291},
            "Version en service 20261124-182210-434-b7c4e4 gardée : sur les mêmes lignes de test, son PR-AUC "
            "(0,9291) est au moins celui de la nouvelle version (0,91).",
        ),
    ],
)
def test_a_retraining_result_is_said_in_french_from_its_fields(result, french):
    with translation.override("fr"):
        assert _fr(retrain_result_text(result)) == french
    with translation.override("en"):
        english = retrain_result_text(result)
        assert english.startswith(("Put live", "Live version")) and not re.search(r"\d,\d", english)


def test_a_run_recorded_without_the_fields_shows_its_own_text():
    old = {"model": "credit", "version": "v1", "activated": False, "why": "kept v0: its held-out auc 0.7 >= 0.6"}
    assert retrain_result_text(old) == old["why"]
    assert retrain_result_text(None) == ""


def test_card_metrics_and_training_data_read_as_words():
    with translation.override("fr"):
        assert metric_key_label("held_out.model.auc") == "jeu de test › modèle › AUC"
        assert metric_key_label("per_pattern.rapid_repeat.recall_hold") == (
            "par motif de fraude › paiements répétés › rappel (bloqué)"
        )
        assert metric_key_label("something_new.x") == "something_new › x"  # unknown keys are shown, not hidden
        rows = metric_rows([("split", "time"), ("active_before.version", None), ("fpr", 0.00019), ("n_train", 6961)])
        assert [(r["label"], _fr(r["value"])) for r in rows] == [
            ("découpage", "chronologique"),
            ("version en service avant l'entraînement › version", "—"),
            ("taux de faux positifs", "0,00019"),
            ("lignes d'entraînement", "6 961"),
        ]
        data = training_data_rows({"source": "database: closed loans", "rows": 11602, "sha256": "ab12"})
        assert [(r["label"], _fr(r["value"])) for r in data] == [
            ("source des données", "base de données : prêts clos (remboursés ou en défaut)"),
            ("lignes", "11 602"),
            ("empreinte des données (sha256)", "ab12"),
        ]
        assert training_data_rows({"source": "csv: loans.csv"})[0]["value"] == "fichier CSV : loans.csv"
    with translation.override("en"):
        assert metric_key_label("held_out.model.auc") == "held-out set › model › AUC"
        assert training_data_rows({"rows": 11602})[0]["value"] == "11,602"
