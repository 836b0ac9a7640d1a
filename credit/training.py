"""Train, evaluate and register a credit model.

Data: loan outcomes in the database (repaid = 1, defaulted = 0, features as of
the loan's `offered_at`, so nothing after the decision leaks in; loans still
open are left out), or a CSV of the six features plus `defaulted` (0/1).

Split: 60 % train, 20 % calibration (early stopping and the calibration fit),
20 % held out. By time when dates exist (oldest to train, newest held out),
otherwise stratified at random. Every metric reported as held-out is computed
on the held-out 20 % only, for the model, the rule fallback and a
logistic-regression baseline alike.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.utils import timezone

from credit import scoring
from credit.features import FEATURE_DEFINITIONS, FEATURES, GRACE_DAYS, WINDOW_DAYS, Target, features_for_targets
from sunusav.ml import lifecycle
from sunusav.ml import registry as reg
from sunusav.ml.drift import reference_distribution
from sunusav.ml.training import TrainResult, promotion_decide
from sunusav.models import Loan

logger = logging.getLogger(__name__)

CHUNK = 5000
ISOTONIC_MIN_ROWS = 1000
SEED = 7


class TrainingError(Exception):
    """The data cannot train a model (too few rows, one class only, bad CSV)."""


@dataclass
class Dataset:
    X: np.ndarray
    y: np.ndarray  # 1 = repaid, 0 = defaulted
    times: np.ndarray | None  # epoch seconds of each decision, when known
    source: str


# --- Data --------------------------------------------------------------------------------


def dataset_from_db() -> Dataset:
    """Return closed loans (repaid or defaulted) with features as of each offer."""
    loans = list(
        Loan.objects.filter(status__in=[Loan.Status.REPAID, Loan.Status.DEFAULTED])
        .order_by("offered_at", "id")
        .values_list("member_id", "offered_at", "status")
    )
    if not loans:
        raise TrainingError("no closed loans (repaid or defaulted) in the database")
    parts = []
    for start in range(0, len(loans), CHUNK):
        chunk = loans[start : start + CHUNK]
        parts.append(features_for_targets([Target(key=i, member_id=m, as_of=t) for i, (m, t, _) in enumerate(chunk)]))
    y = np.array([1 if s == Loan.Status.REPAID else 0 for _, _, s in loans], dtype=np.int64)
    times = np.array([t.timestamp() for _, t, _ in loans])
    return Dataset(X=np.vstack(parts), y=y, times=times, source="database: closed loans")


def dataset_from_csv(path: str | Path) -> Dataset:
    """Return rows of a CSV with the six feature columns and `defaulted` (0/1)."""
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in (*FEATURES, "defaulted") if c not in (reader.fieldnames or [])]
        if missing:
            raise TrainingError(f"{path.name}: missing columns {', '.join(missing)}")
        X, y = [], []
        for line, row in enumerate(reader, start=2):
            try:
                values = [float(row[name]) for name in FEATURES]
                label = int(float(row["defaulted"]))
            except (TypeError, ValueError) as exc:
                raise TrainingError(f"{path.name} line {line}: {exc}") from exc
            if not all(np.isfinite(values)) or label not in (0, 1):
                raise TrainingError(f"{path.name} line {line}: non-finite feature or defaulted not 0/1")
            X.append(values)
            y.append(1 - label)
    return Dataset(
        X=np.array(X, dtype=np.float64), y=np.array(y, dtype=np.int64), times=None, source=f"csv: {path.name}"
    )


# --- Split, fit, evaluate ------------------------------------------------------------------


def split_indices(data: Dataset, *, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Return train, calibration and held-out indices, and how they were split."""
    n = len(data.y)
    if n < 50 or data.y.min() == data.y.max():
        raise TrainingError(f"need at least 50 rows with both outcomes, got {n} rows")
    if data.times is not None:
        order = np.argsort(data.times, kind="stable")
        a, b = int(n * 0.6), int(n * 0.8)
        train, calib, test = order[:a], order[a:b], order[b:]
        if all(len(np.unique(data.y[part])) == 2 for part in (train, calib, test)):
            return train, calib, test, "time"
        logger.warning("a time split leaves one class alone; falling back to a stratified split")
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=0.2, stratify=data.y, random_state=seed)
    train, calib = train_test_split(rest, test_size=0.25, stratify=data.y[rest], random_state=seed)
    return train, calib, test, "stratified"


def fit_booster(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, *, rounds: int = 400):
    """Fit the monotone LightGBM model of P(repay), early-stopped on the validation rows."""
    import lightgbm as lgb

    params = {
        "objective": "binary",
        # Small trees: reason codes (TreeSHAP) cost grows with depth squared,
        # and deeper trees bought no held-out AUC on the demo world.
        "learning_rate": 0.08,
        "num_leaves": 8,
        "max_depth": 4,
        "min_data_in_leaf": max(5, min(50, len(y) // 50)),
        "lambda_l2": 1.0,
        "monotone_constraints": list(scoring.MONOTONE_CONSTRAINTS),
        "monotone_constraints_method": "advanced",
        "num_threads": 2,
        "deterministic": True,
        "force_row_wise": True,
        "seed": SEED,
        "verbosity": -1,
    }
    train_set = lgb.Dataset(X, label=y, feature_name=list(FEATURES), free_raw_data=False)
    val_set = lgb.Dataset(X_val, label=y_val, reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=rounds,
        valid_sets=[val_set],
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    # Keep only the trees up to the best iteration, so serving and the file agree.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration or -1))
    return booster, {k: v for k, v in params.items() if k != "monotone_constraints"}


def fit_calibration(margin: np.ndarray, y: np.ndarray) -> dict:
    """Fit margin -> P(repay): isotonic with enough rows, Platt scaling otherwise."""
    if len(y) >= ISOTONIC_MIN_ROWS:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, y)
        return {"method": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e6).fit(margin.reshape(-1, 1), y)
    return {"method": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def evaluate(scores: np.ndarray, y: np.ndarray, *, threshold: float = scoring.DECISION_THRESHOLD) -> dict:
    """Return ROC AUC, accuracy at the decision threshold, Brier score and KS of P(repay)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, scores)
    return {
        "auc": round(float(roc_auc_score(y, scores)), 4),
        "accuracy": round(float(np.mean((scores >= threshold) == (y == 1))), 4),
        "brier": round(float(brier_score_loss(y, scores)), 4),
        "ks": round(float(np.max(tpr - fpr)), 4),
        "threshold": threshold,
    }


def _logistic_baseline(X: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        np.maximum(X, 0), y
    )


def _active_auc_on(X: np.ndarray, y: np.ndarray) -> tuple[str | None, float | None]:
    """Return the active model's version and AUC on these held-out rows (None if none is usable)."""
    from sklearn.metrics import roc_auc_score

    loaded = reg.registry.get_active(scoring.MODEL_NAME)
    if loaded is None:
        return None, None
    try:
        return loaded.version, round(float(roc_auc_score(y, loaded.model.scores(X))), 4)
    except Exception:  # an active model that cannot score is beaten by any that can
        logger.exception("active credit model failed on the held-out rows")
        return loaded.version, None


# --- The whole run ------------------------------------------------------------------------


def credit_model_train(
    *, data: Dataset, activate: bool = False, activated_by: str = "", rounds: int = 400
) -> TrainResult:
    """Train on `data`, write the artifact and its model version; activate if it is better or asked to."""
    train, calib, test, split = split_indices(data)
    X, y = data.X, data.y
    booster, params = fit_booster(X[train], y[train], X[calib], y[calib], rounds=rounds)
    calibration = fit_calibration(booster.predict(X[calib], raw_score=True), y[calib])
    model_scores = np.clip(scoring.calibration_apply(calibration, booster.predict(X[test], raw_score=True)), 0, 1)
    logreg = _logistic_baseline(X[np.concatenate([train, calib])], y[np.concatenate([train, calib])])
    held_out = {
        "model": evaluate(np.round(model_scores, 3), y[test]),
        "rules": evaluate(scoring.rules_score(X[test]), y[test]),
        "logistic_regression": evaluate(logreg.predict_proba(np.maximum(X[test], 0))[:, 1], y[test]),
    }
    active_version, active_auc = _active_auc_on(X[test], y[test])
    metrics = {
        "held_out": held_out,
        "auc": held_out["model"]["auc"],
        "split": split,
        "n_train": len(train),
        "n_calibration": len(calib),
        "n_test": len(test),
        "repaid_rate": round(float(y.mean()), 4),
        "active_before": {"version": active_version, "auc_on_this_held_out": active_auc},
    }
    # Training deciles of every feature and of the score: the reference of drift (PSI) monitoring.
    all_scores = np.clip(scoring.calibration_apply(calibration, booster.predict(X, raw_score=True)), 0, 1)
    reference = reference_distribution(X, FEATURES, np.round(all_scores, 3))
    now = timezone.now()
    data_digest = reg.data_hash(np.column_stack([X, y]))
    version = f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}-{data_digest[:6]}"
    manifest = {
        "model": "LightGBM binary classifier of repayment, calibrated to P(repay)",
        "label": "repaid = 1, defaulted = 0",
        "features": list(FEATURES),
        "feature_definitions": FEATURE_DEFINITIONS,
        "feature_window_days": WINDOW_DAYS,
        "grace_days": GRACE_DAYS,
        "monotone_constraints": dict(zip(FEATURES, scoring.MONOTONE_CONSTRAINTS, strict=True)),
        "params": params,
        "num_trees": booster.num_trees(),
        "calibration": calibration["method"],
        "decision_threshold": scoring.DECISION_THRESHOLD,
        "bands": dict(scoring.BAND_CUTOFFS),
        "training_data": {"source": data.source, "rows": len(y), "sha256": data_digest},
        "training_data_hash": data_digest,
        "leakage": "database rows use features as of each loan's offered_at; open loans are excluded",
        "library_versions": reg.library_versions("lightgbm", "scikit-learn", "numpy"),
        "metrics": metrics,
        "reference_distribution": reference,
        "trained_at": now.isoformat(),
        "limitations": (
            "Learned from past offers only (members never offered a loan are unseen); "
            "the rule fallback rules-v1 answers when this model is unusable."
        ),
    }
    manifest = reg.artifact_write(
        name=scoring.MODEL_NAME,
        version=version,
        files={
            "model.txt": booster.model_to_string().encode(),
            "calibration.json": json.dumps(calibration).encode(),
        },
        manifest=manifest,
    )
    activate, reason = promotion_decide(
        metric="auc",
        score=held_out["model"]["auc"],
        active_version=active_version,
        active_score=active_auc,
        forced=activate,
    )
    model_version = lifecycle.model_version_register(manifest=manifest, activate=activate, activated_by=activated_by)
    return TrainResult(
        name=scoring.MODEL_NAME,
        manifest=manifest,
        model_version=model_version,
        activated=activate,
        reason=reason,
        metric="auc",
        score=held_out["model"]["auc"],
        active_version=active_version,
        active_score=active_auc,
        rows=len(y),
        metrics=metrics,
    )


def credit_model_trainer(*, activated_by: str = "") -> TrainResult:
    """Train from the database's loan outcomes (the registry's trainer for `credit`)."""
    return credit_model_train(data=dataset_from_db(), activated_by=activated_by)
