"""Two versions of a model scored on the same held-out rows, before a person activates one or rolls back.

The rows are the ones training holds out, rebuilt from the database as it
is now (no artifact stores them):

- credit: closed loans (`credit.training.dataset_from_db`, features as of
  each offer), the held-out part of `credit.training.split_indices` (the
  newest 20 % by time); the metric is the ROC AUC of P(repay);
- fraud: labelled payments (`fraud.selectors.labeled_payments`: the demo's
  ground truth overridden by analysts' verdicts), the test half of the
  by-member holdout of `fraud.training` (same split, same seed); the metric
  is the PR-AUC (average precision) of the combined fraud score.

Both versions are loaded from their own artifacts (`Registry.load_version`)
and scored on exactly these rows. Too few rows, or a single outcome among
them, gives no figure at all and says so (`not_enough_data`): a number
computed on nothing would only look like evidence. Reads only: nothing is
written, no model is served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _

from credit import training as credit_training
from fraud import training as fraud_training
from fraud.detectors import combine_rows
from fraud.selectors import labeled_payments
from sunusav.ml.registry import ArtifactError, registry
from sunusav.models import ModelVersion
from sunusav.presenters import number_text

logger = logging.getLogger(__name__)

METRICS = {"credit": "auc", "fraud": "pr_auc"}
METRIC_NAMES = {"auc": "AUC", "pr_auc": "PR-AUC"}
# The key under which a version's card records the version active when it was trained, and its score.
ACTIVE_BEFORE_SCORE = {"credit": "auc_on_this_held_out", "fraud": "pr_auc_on_this_test"}
FRAUD_SEED = 7
FEW_OUTCOMES = 10  # fewer defaults (credit) or frauds (fraud) than this among the rows: say the figures are shaky  # fraud.training.fraud_model_train's default: the split its test half comes from


class NotEnoughData(Exception):
    """The database has too few labelled rows (or one outcome only) to compare on."""


@dataclass
class VersionScore:
    """One version's metric on the comparison rows (None with `error` when it could not score)."""

    row: ModelVersion | None
    score: float | None = None
    error: str = ""

    @property
    def version(self) -> str | None:
        return self.row.version if self.row is not None else None


@dataclass
class HoldoutComparison:
    """The candidate and the active version on the same held-out rows, and what to warn about."""

    name: str
    metric: str
    candidate: VersionScore
    active: VersionScore
    rows: int = 0
    positives: int = 0
    source: str = ""
    not_enough_data: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def metric_name(self) -> str:
        return METRIC_NAMES.get(self.metric, self.metric)

    @property
    def compared(self) -> bool:
        return not self.not_enough_data and self.candidate.score is not None


# --- Rows ---------------------------------------------------------------------------------------


def credit_holdout_rows() -> tuple[np.ndarray, np.ndarray, str]:
    """Return (X, repaid, how split) of the held-out closed loans; raise NotEnoughData."""
    try:
        data = credit_training.dataset_from_db()
        _train, _calibration, test, split = credit_training.split_indices(data)
    except credit_training.TrainingError as exc:
        raise NotEnoughData(str(exc)) from exc
    return data.X[test], data.y[test], split


def fraud_holdout_rows() -> tuple[np.ndarray, np.ndarray]:
    """Return (features, is_fraud) of the held-out members' labelled payments; raise NotEnoughData."""
    data = labeled_payments()
    labels = data.labels
    labeled = ~np.isnan(labels)
    if int((labels == 1).sum()) < fraud_training.MIN_LABELED_FRAUD:
        raise NotEnoughData(f"fewer than {fraud_training.MIN_LABELED_FRAUD} labelled fraudulent payments")
    # The very split training evaluates on (its test half), so both figures compare like with like.
    _validation, in_test = fraud_training._member_split(data.member_ids, labeled, FRAUD_SEED, labels)
    if len(set(labels[in_test])) < 2:
        raise NotEnoughData("the held-out half has a single outcome")
    return data.features[in_test], labels[in_test]


# --- Scores -------------------------------------------------------------------------------------


def _credit_score(model, X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, model.scores(X))), 4)


def _fraud_score(model, X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    isolation, probability = model.anomaly(X)
    scores, _reasons = combine_rows(X, None, probability, isolation, model.rule_params)
    return round(float(average_precision_score(y, scores)), 4)


SCORERS = {"credit": _credit_score, "fraud": _fraud_score}


def _score(row: ModelVersion | None, X: np.ndarray, y: np.ndarray) -> VersionScore:
    if row is None:
        return VersionScore(row=None)
    try:
        loaded = registry.load_version(row.name, row.version, expected_sha256=row.sha256)
        return VersionScore(row=row, score=SCORERS[row.name](loaded.model, X, y))
    except ArtifactError as exc:
        logger.warning("model %s %s not compared: %s", row.name, row.version, exc)
        return VersionScore(row=row, error=_("artefact invalide, manquant ou différent de son empreinte enregistrée"))
    except Exception as exc:  # a version that cannot score is shown as such, never as a number
        logger.exception("model %s %s failed on the held-out rows", row.name, row.version)
        return VersionScore(row=row, error=_("n'a pas pu noter ces lignes (%(error)s)") % {"error": type(exc).__name__})


# --- The comparison -------------------------------------------------------------------------------


def training_refusal(candidate: ModelVersion) -> str:
    """Return why the candidate's own training kept the then-active version, from its card ("" if it did not)."""
    metrics = candidate.metrics or (candidate.manifest or {}).get("metrics") or {}
    metric = METRICS.get(candidate.name)
    before = metrics.get("active_before") or {}
    own, theirs = metrics.get(metric), before.get(ACTIVE_BEFORE_SCORE.get(candidate.name, ""))
    if not before.get("version") or not isinstance(theirs, int | float):
        return ""
    if isinstance(own, int | float) and own > theirs:
        return ""
    return _(
        "À son entraînement, cette version n'a pas été mise en service : sur son jeu de test, son %(metric)s "
        "(%(own)s) ne dépassait pas celui de la version alors en service %(version)s (%(theirs)s)."
    ) % {
        "metric": METRIC_NAMES[metric],
        "own": number_text(own),
        "version": before["version"],
        "theirs": number_text(theirs),
    }


def holdout_comparison(*, candidate: ModelVersion, active: ModelVersion | None) -> HoldoutComparison:
    """Score `candidate` and `active` (the version serving now, if any) on the same held-out rows."""
    name = candidate.name
    comparison = HoldoutComparison(
        name=name, metric=METRICS[name], candidate=VersionScore(row=candidate), active=VersionScore(row=active)
    )
    refusal = training_refusal(candidate)
    if refusal:
        comparison.warnings.append(refusal)
    try:
        if name == "credit":
            X, y, split = credit_holdout_rows()
            comparison.source = (
                _("les 20 %% de prêts clos les plus récents (découpage chronologique de l'entraînement)")
                if split == "time"
                else _("20 %% des prêts clos tirés au hasard, stratifiés (découpage de l'entraînement)")
            ) % {}
        else:
            X, y = fraud_holdout_rows()
            comparison.source = _(
                "les paiements étiquetés des membres du demi-jeu de test de l'entraînement (découpage par membre)"
            )
    except NotEnoughData as exc:
        logger.info("no held-out comparison for %s: %s", name, exc)
        comparison.not_enough_data = (
            _(
                "Pas assez de prêts clos (remboursés ou en défaut) pour comparer les versions : il en faut au moins "
                "50, avec les deux issues parmi les lignes mises de côté. Aucun chiffre n'est donc affiché."
            )
            if name == "credit"
            else _(
                "Pas assez de paiements étiquetés pour comparer les versions : il faut au moins %(min)d fraudes "
                "étiquetées, et des fraudes comme des paiements normaux parmi les membres mis de côté. "
                "Aucun chiffre n'est donc affiché."
            )
            % {"min": fraud_training.MIN_LABELED_FRAUD}
        )
        return comparison
    comparison.rows, comparison.positives = int(len(y)), int((y == 1).sum())
    rarer = min(comparison.positives, comparison.rows - comparison.positives)
    if rarer < FEW_OUTCOMES:
        comparison.warnings.append(
            _(
                "Seulement %(n)d lignes de l'issue la plus rare parmi ces %(rows)s : un écart entre les deux "
                "chiffres est peu fiable."
            )
            % {"n": rarer, "rows": number_text(comparison.rows)}
        )
    comparison.candidate = _score(candidate, X, y)
    comparison.active = _score(active, X, y) if active is not None and active.pk != candidate.pk else comparison.active
    cand, act = comparison.candidate.score, comparison.active.score
    if cand is not None and act is not None and cand < act:
        comparison.warnings.append(
            _(
                "Sur ces mêmes lignes, la version proposée fait moins bien que la version en service "
                "(%(metric)s %(candidate)s contre %(active)s)."
            )
            % {"metric": comparison.metric_name, "candidate": number_text(cand), "active": number_text(act)}
        )
    return comparison
