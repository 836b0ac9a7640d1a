"""Train the fraud model from stored payments, evaluate it honestly, write and register the artifact.

Splits are by member (a member's burst rows are alike, so a row split would
flatter the model): `HOLDOUT_SHARE` of the members with labeled payments form
the holdout, split in two halves again by member: *validation* (compare PyOD
detectors, fit the score calibration) and *test* (the reported metrics, seen
by nothing else). The forest is fit on every other payment except labeled fraud.

PyOD candidates are restricted to detectors whose statistics freeze at fit time
(IForest, HBOS, KNN, LOF, PCA); ECOD/COPOD are excluded (a row's score depends
on the rest of its batch). The one shipped is the IsolationForest, because it
is the only one with an exact microsecond serving form here (`fraud.forest`);
the model card records every candidate's validation PR-AUC and says when
another one ranked higher.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils import timezone

from fraud.detectors import ARRAYS_FILE, MODEL_NAME, ONNX_FILE, calibrate, combine, decide, model_inputs
from fraud.features import (
    CHANGE_WINDOW_SEC,
    FEATURES,
    INVOICE_WINDOW_SEC,
    TIME_SINCE_LAST_CAP_SEC,
)
from fraud.rules import DEFAULT_PARAMS, rules_catalogue

logger = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.3
COMPARE_ROWS = 20_000
MIN_LABELED_FRAUD = 5


class TrainingError(Exception):
    """Not enough data to train or evaluate."""


@dataclass
class Trained:
    """A trained model and everything its card records."""

    forest: object  # sklearn IsolationForest
    arrays: dict
    calibration: dict
    rule_params: dict
    comparison: list[dict]
    metrics: dict
    data_sha256: str
    counts: dict


def _member_split(member_ids: np.ndarray, labeled: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    members = np.unique(member_ids[labeled])
    rng.shuffle(members)
    n_holdout = max(2, int(round(len(members) * HOLDOUT_SHARE)))
    validation = set(members[: n_holdout // 2])
    test = set(members[n_holdout // 2 : n_holdout])
    in_validation = np.fromiter((m in validation for m in member_ids), dtype=bool, count=member_ids.size)
    in_test = np.fromiter((m in test for m in member_ids), dtype=bool, count=member_ids.size)
    return in_validation & labeled, in_test & labeled


def _rule_params(normal_amounts: np.ndarray) -> dict:
    if normal_amounts.size < 100:
        return dict(DEFAULT_PARAMS)
    p95, p999 = np.percentile(normal_amounts, [95, 99.9])
    return {**DEFAULT_PARAMS, "unusual_amount_sats": float(p95), "very_large_amount_sats": float(5 * p999)}


def detectors_compare(*, fit_x: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, seed: int) -> list[dict]:
    """Fit PyOD's frozen-statistics detectors on normal traffic; return validation PR-AUC of each."""
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.pca import PCA
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    sample = fit_x[rng.choice(len(fit_x), size=min(COMPARE_ROWS, len(fit_x)), replace=False)]
    mean, std = sample.mean(axis=0), sample.std(axis=0) + 1e-9  # distance-based ones need scaled inputs
    candidates = {
        "iforest": (lambda: IForest(n_estimators=200, max_samples=256, random_state=seed), False),
        "hbos": (lambda: HBOS(n_bins=20), False),
        "knn": (lambda: KNN(n_neighbors=10), True),
        "lof": (lambda: LOF(n_neighbors=20), True),
        "pca": (lambda: PCA(random_state=seed), False),  # standardises by itself
    }
    rows = []
    for name, (make, scaled) in candidates.items():
        started = time.perf_counter()
        try:
            with np.errstate(all="ignore"):  # PCA/HBOS divide by zero-variance columns
                detector = make()
                detector.fit((sample - mean) / std if scaled else sample)
                scores = detector.decision_function((val_x - mean) / std if scaled else val_x)
                pr_auc = float(average_precision_score(val_y, scores))
        except Exception as exc:  # one broken candidate must not stop training
            rows.append({"detector": name, "pr_auc": None, "error": f"{type(exc).__name__}: {exc}"})
            continue
        rows.append({"detector": name, "pr_auc": round(pr_auc, 4), "seconds": round(time.perf_counter() - started, 2)})
    return rows


def _combined_scores(features: np.ndarray, probability: np.ndarray, isolation: np.ndarray, params: dict) -> np.ndarray:
    out = np.empty(len(features))
    for i, row in enumerate(features):
        out[i], _ = combine(dict(zip(FEATURES, row, strict=True)), float(probability[i]), float(isolation[i]), params)
    return out


def evaluate(*, scores: np.ndarray, labels: np.ndarray, anomaly: np.ndarray, patterns: np.ndarray) -> dict:
    """Return holdout metrics of combined scores at the configured thresholds."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    decisions = np.array([decide(s) for s in scores])
    held = decisions == "hold"
    positives = labels == 1
    tp, fp = int((held & positives).sum()), int((held & ~positives).sum())
    fn, tn = int((~held & positives).sum()), int((~held & ~positives).sum())
    precision_curve, recall_curve, thresholds = precision_recall_curve(labels, scores)
    ok = precision_curve[:-1] >= 0.90
    best = int(np.argmax(np.where(ok, recall_curve[:-1], -1))) if ok.any() else None
    per_pattern = {}
    for pattern in sorted(set(patterns[positives]) - {""}):
        rows = positives & (patterns == pattern)
        per_pattern[pattern] = {"n": int(rows.sum()), "recall_hold": round(float(held[rows].mean()), 4)}
    return {
        "n": int(labels.size),
        "n_fraud": int(positives.sum()),
        "hold_threshold": settings.FRAUD_HOLD_THRESHOLD,
        "review_threshold": settings.FRAUD_REVIEW_THRESHOLD,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "fpr": round(fp / (fp + tn), 6) if fp + tn else None,
        "review_or_hold_recall": round(float((decisions[positives] != "allow").mean()), 4) if tp + fn else None,
        "review_rate": round(float((decisions == "review").mean()), 4),
        "pr_auc": round(float(average_precision_score(labels, scores)), 4),
        "pr_auc_anomaly_only": round(float(average_precision_score(labels, anomaly)), 4),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "best_recall_at_precision_0_90": None
        if best is None
        else {
            "threshold": round(float(thresholds[best]), 4),
            "recall": round(float(recall_curve[best]), 4),
            "precision": round(float(precision_curve[best]), 4),
        },
        "per_pattern": per_pattern,
    }


def fraud_model_fit(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    member_ids: np.ndarray,
    patterns: np.ndarray | None = None,
    seed: int = 7,
    n_estimators: int = 200,
    max_samples: int = 256,
    compare: bool = True,
) -> Trained:
    """Fit the forest on normal traffic, compare detectors, calibrate, and evaluate on the test half."""
    from sklearn.ensemble import IsolationForest
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    from fraud.forest import forest_arrays
    from sunusav.ml.registry import data_hash

    patterns = np.full(len(labels), "", dtype=object) if patterns is None else patterns
    labeled = ~np.isnan(labels)
    if int((labels == 1).sum()) < MIN_LABELED_FRAUD:
        raise TrainingError(f"need at least {MIN_LABELED_FRAUD} labeled fraudulent payments to evaluate")
    in_val, in_test = _member_split(member_ids, labeled, seed)
    fit_rows = ~(in_val | in_test) & (labels != 1)
    for name, rows in (("validation", in_val), ("test", in_test)):
        if len(set(labels[rows])) < 2:
            raise TrainingError(f"the {name} half needs both fraud and normal labeled payments")
    x = model_inputs(features)
    forest = IsolationForest(
        n_estimators=n_estimators, max_samples=min(max_samples, int(fit_rows.sum())), random_state=seed
    ).fit(x[fit_rows])
    comparison = (
        detectors_compare(fit_x=x[fit_rows], val_x=x[in_val], val_y=labels[in_val], seed=seed) if compare else []
    )
    arrays = forest_arrays(forest)

    isolation = -forest.score_samples(x)
    platt = LogisticRegression(C=100.0).fit(isolation[in_val, None], labels[in_val].astype(int))
    calibration = {
        "method": "platt",
        "a": float(platt.coef_[0, 0]),
        "b": float(platt.intercept_[0]),
        "fitted_on": "validation half of the labeled holdout",
    }
    probability = calibrate(isolation, calibration["a"], calibration["b"])
    rule_params = _rule_params(features[fit_rows, 0])
    test_scores = _combined_scores(features[in_test], probability[in_test], isolation[in_test], rule_params)
    metrics = evaluate(
        scores=test_scores, labels=labels[in_test], anomaly=isolation[in_test], patterns=patterns[in_test]
    )
    val_scores = _combined_scores(features[in_val], probability[in_val], isolation[in_val], rule_params)
    metrics["validation_pr_auc"] = round(float(average_precision_score(labels[in_val], val_scores)), 4)
    return Trained(
        forest=forest,
        arrays=arrays,
        calibration=calibration,
        rule_params=rule_params,
        comparison=comparison,
        metrics=metrics,
        data_sha256=data_hash(np.column_stack([features, np.nan_to_num(labels, nan=-1)])),
        counts={
            "payments": int(len(labels)),
            "fit": int(fit_rows.sum()),
            "validation": int(in_val.sum()),
            "test": int(in_test.sum()),
            "labeled": int(labeled.sum()),
            "labeled_fraud": int((labels == 1).sum()),
            "fraud_excluded_from_fit": int((~(in_val | in_test) & (labels == 1)).sum()),
        },
    )


def _card(trained: Trained, *, analyst_labels: int, params: dict) -> dict:
    from sunusav.ml.registry import library_versions

    ranked = sorted((r for r in trained.comparison if r.get("pr_auc") is not None), key=lambda r: -r["pr_auc"])
    best = ranked[0]["detector"] if ranked else None
    return {
        "model": "IsolationForest (scikit-learn, via PyOD IForest settings) + rules, noisy-OR",
        "features": FEATURES,
        "feature_windows": {
            "time_since_last_sec": f"seconds since the member's previous payment, capped at {TIME_SINCE_LAST_CAP_SEC}",
            "invoices_last_min": f"member's invoices in the {INVOICE_WINDOW_SEC} s up to and including this one",
            "device_changes": f"device switches between consecutive payments in the last {CHANGE_WINDOW_SEC} s",
            "location_changes": f"location switches between consecutive payments in the last {CHANGE_WINDOW_SEC} s",
        },
        "model_inputs": "log1p(amount_sats), log1p(time_since_last_sec), the three counts as they are",
        "params": params,
        "serving": {
            "form": "onnx",
            "files": {ONNX_FILE: "one ai.onnx.ml TreeEnsembleRegressor node", ARRAYS_FILE: "the forest's arrays"},
            "why": "onnxruntime scores one row in tens of microseconds with the same scores as scikit-learn "
            "(max abs difference ~2e-8); the numpy walk of the same arrays is exact but ~3x slower a row.",
        },
        "calibration": trained.calibration,
        "score_mapping": "p = sigmoid(a * isolation + b), isolation = -score_samples; "
        "fraud_score = 1 - (1 - p) * prod(1 - rule weight)",
        "rules": rules_catalogue(),
        "rule_params": trained.rule_params,
        "thresholds": {
            "review": settings.FRAUD_REVIEW_THRESHOLD,
            "hold": settings.FRAUD_HOLD_THRESHOLD,
            "default_action": settings.FRAUD_DEFAULT_ACTION,
        },
        "detector_comparison": {
            "metric": "PR-AUC on the validation half of the labeled holdout (anomaly score alone)",
            "candidates": trained.comparison,
            "best": best,
            "shipped": "iforest",
            "note": ""
            if best in (None, "iforest")
            else f"{best} ranked higher; iforest is shipped because only it has an exact microsecond serving form.",
        },
        "metrics": trained.metrics,
        "counts": {**trained.counts, "analyst_labels": analyst_labels},
        "data_sha256": trained.data_sha256,
        "library_versions": library_versions("scikit-learn", "pyod", "numpy", "onnx", "onnxruntime"),
        "trained_at": timezone.now().isoformat(),
        "split": "by member: 30% of labeled members held out, halved into validation and test",
    }


def fraud_artifact_write(*, trained: Trained, analyst_labels: int = 0, params: dict | None = None) -> dict:
    """Write a trained model's ONNX file, arrays and model card to `ML_ARTIFACTS_DIR/fraud/<version>/`."""
    from fraud.forest import arrays_to_bytes, onnx_bytes
    from sunusav.ml.registry import artifact_write

    version = timezone.now().strftime("%Y%m%d-%H%M%S-%f") + f"-{trained.data_sha256[:8]}"
    return artifact_write(
        name=MODEL_NAME,
        version=version,
        files={ONNX_FILE: onnx_bytes(trained.arrays), ARRAYS_FILE: arrays_to_bytes(trained.arrays)},
        manifest=_card(trained, analyst_labels=analyst_labels, params=params or {}),
    )


def fraud_model_train(
    *, activate: bool = False, seed: int = 7, n_estimators: int = 200, max_samples: int = 256, activated_by: str = ""
) -> dict:
    """Train from the database, write the artifact, register it; activate when better or asked.

    Returns a summary: version, metrics, whether it was activated and why.
    """
    from fraud.selectors import labeled_payments
    from sunusav.ml.registry import active_version_row, model_version_register

    data = labeled_payments()
    trained = fraud_model_fit(
        features=data.features,
        labels=data.labels,
        member_ids=data.member_ids,
        patterns=data.patterns,
        seed=seed,
        n_estimators=n_estimators,
        max_samples=max_samples,
    )
    manifest = fraud_artifact_write(
        trained=trained,
        analyst_labels=data.analyst_labels,
        params={"n_estimators": n_estimators, "max_samples": max_samples, "seed": seed},
    )
    version = manifest["version"]
    current = active_version_row(MODEL_NAME)
    current_pr_auc = (current.metrics or {}).get("pr_auc") if current else None
    better = current is None or current_pr_auc is None or trained.metrics["pr_auc"] > current_pr_auc
    why = "asked (--activate)" if activate else "no active version" if current is None else ""
    if not activate and current is not None:
        why = (
            f"PR-AUC {trained.metrics['pr_auc']} > {current_pr_auc}"
            if better
            else f"kept {current.version}: PR-AUC {trained.metrics['pr_auc']} <= {current_pr_auc}"
        )
    model_version_register(manifest=manifest, activate=activate or better, activated_by=activated_by or "training")
    return {
        "version": version,
        "activated": activate or better,
        "why": why,
        "metrics": trained.metrics,
        "comparison": trained.comparison,
        "counts": trained.counts,
    }
