"""Score payments: the served anomaly model, the rules, and how the two combine.

The anomaly part is the trained IsolationForest served by onnxruntime
(`fraud.forest`), fed `model_inputs(features, since_clip_sec)`: log1p of the
amount, log1p of the time since the last payment clipped at `since_clip_sec`
(chosen at training, 1 h on the demo world), the counts as they are. The forest
splits uniformly between a feature's min and max: without the clip, the days
and weeks between ordinary payments (and the 30-day cap's spike) took most of
the splits on that feature, and the seconds that separate repeats and bursts
from normal traffic were isolated late (validation PR-AUC 0.19 -> 0.88).

Mapping to [0, 1]: the isolation score `s = -score_samples` (in (0, 1], about
0.5 for ordinary rows) goes through `p = 1 / (1 + exp(-(a * s + b)))`, with
`a` and `b` fitted by logistic regression on the validation half of the
labeled holdout (Platt scaling), so `p` reads as the probability of fraud
given the anomaly alone on the training world's traffic.

Combination (noisy-OR): `fraud_score = 1 - (1 - p) * prod(1 - weight of each
firing rule)`. `decision` is `hold` at `FRAUD_HOLD_THRESHOLD` and above,
`review` at `FRAUD_REVIEW_THRESHOLD` and above, else `allow`; `is_fraud` means
`hold`. With no usable model the rules decide alone (`fallback: true`). If
scoring fails, `FRAUD_DEFAULT_ACTION` decides and `fraud_score` is None.
"""

from __future__ import annotations

import itertools
import logging
import math
import operator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings

from fraud.features import FEATURES
from fraud.forest import NumpyForest, OnnxForest, arrays_from_bytes
from fraud.rules import DEFAULT_PARAMS, RULES, rules_fire
from sunusav import timings
from sunusav.ml.ab import CHALLENGER, CHAMPION, challenger_arms
from sunusav.ml.registry import registry

logger = logging.getLogger(__name__)

MODEL_NAME = "fraud"
ONNX_FILE = "forest.onnx"
ARRAYS_FILE = "forest.npz"
_feature_values = operator.itemgetter(*FEATURES)
LOG_COLUMNS = (0, 1)  # amount_sats, time_since_last_sec
SINCE_COLUMN = 1


def model_inputs(features: np.ndarray, since_clip_sec: float | None = None) -> np.ndarray:
    """Return the forest's input rows from raw feature rows (n, 5)."""
    x = np.array(features, dtype=np.float64, copy=True)
    if since_clip_sec is not None:
        np.minimum(x[:, SINCE_COLUMN], since_clip_sec, out=x[:, SINCE_COLUMN])
    x[:, LOG_COLUMNS] = np.log1p(np.maximum(x[:, LOG_COLUMNS], 0.0))
    return x


def calibrate(isolation: np.ndarray, a: float, b: float) -> np.ndarray:
    """Map isolation scores (in (0, 1]) to probabilities with Platt's sigmoid."""
    return 1.0 / (1.0 + np.exp(-(a * isolation + b)))


@dataclass
class FraudModel:
    """A loaded fraud model: the served forest, its calibration and its rule parameters."""

    forest: object  # OnnxForest or NumpyForest: `.score_samples(rows)`
    calibration: dict
    rule_params: dict
    serving: str
    since_clip_sec: float | None = None

    def anomaly(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (isolation score, calibrated probability) of raw feature rows."""
        isolation = -self.forest.score_samples(model_inputs(features, self.since_clip_sec))
        return isolation, calibrate(isolation, self.calibration["a"], self.calibration["b"])


def load_fraud_model(path: Path, manifest: dict) -> FraudModel:
    """Load an artifact folder (the registry's loader for `fraud`)."""
    if manifest.get("features") != FEATURES:
        raise ValueError(f"artifact features {manifest.get('features')} differ from {FEATURES}")
    arrays = arrays_from_bytes((path / ARRAYS_FILE).read_bytes())
    try:
        forest = OnnxForest(
            (path / ONNX_FILE).read_bytes(),
            n_features=int(arrays["n_features"]),
            denominator=float(arrays["denominator"]),
        )
        serving = "onnx"
    except ImportError:
        # Same scores (the test checks both forms), about 3x slower a row.
        forest, serving = NumpyForest(arrays), "numpy"
    model = FraudModel(
        forest=forest,
        calibration=manifest["calibration"],
        rule_params={**DEFAULT_PARAMS, **manifest.get("rule_params", {})},
        serving=serving,
        since_clip_sec=(manifest.get("model_input_params") or {}).get("since_clip_sec"),
    )
    forest.score_samples(model_inputs(np.zeros((1, len(FEATURES)))))  # warm the session; fail here, not in a request
    return model


@dataclass
class CheckResult:
    """One payment's fraud decision, as the API returns it and the audit records it."""

    fraud_score: float | None
    is_fraud: bool
    decision: str
    reasons: list[dict]
    model_version: str | None
    fallback: bool
    isolation_score: float | None = None
    default_action_applied: bool = False
    error: str = ""
    latency_ms: float = 0.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "fraud_score": self.fraud_score,
            "is_fraud": self.is_fraud,
            "decision": self.decision,
            "reasons": self.reasons,
            "model_version": self.model_version,
            "fallback": self.fallback,
        }


def decide(score: float) -> str:
    """Return allow / review / hold for a fraud score, with the thresholds in settings."""
    if score >= settings.FRAUD_HOLD_THRESHOLD:
        return "hold"
    if score >= settings.FRAUD_REVIEW_THRESHOLD:
        return "review"
    return "allow"


_SCALAR_ROWS = 4
ANOMALY_FR = "Score d'anomalie du modèle (forêt d'isolement)."
ANOMALY_EN = "Anomaly score from the model (isolation forest)."


def combine(
    features: dict, probability: float | None, isolation: float | None, params: dict
) -> tuple[float, list[dict]]:
    """Return the noisy-OR fraud score and its reasons for one payment (firing rules, then the anomaly share)."""
    matrix = np.array([[features[name] for name in FEATURES]], dtype=np.float64)
    p = None if probability is None else np.array([probability])
    iso = None if isolation is None else np.array([isolation])
    scores, reasons = combine_rows(matrix, [features], p, iso, params)
    return float(scores[0]), reasons[0]


def _rule_reason(rule, row: dict) -> dict:
    return {
        "id": rule.id,
        "kind": "rule",
        "weight": rule.weight,
        "fr": rule.fr.format(**row),
        "en": rule.en.format(**row),
    }


def combine_rows(
    matrix: np.ndarray,
    rows: list[dict] | None,
    probability: np.ndarray | None,
    isolation: np.ndarray | None,
    params: dict,
) -> tuple[np.ndarray, list[list[dict]] | None]:
    """Return noisy-OR fraud scores of feature rows (n, 5) and, when `rows` are given, each row's reasons.

    Vectorised over rows: `fraud_score = 1 - (1 - p) * prod(1 - weight)` over
    the firing rules, multiplied in the rules' order (the same floats as one
    row at a time). Reasons: the firing rules (sentences filled from the row
    as given), then the anomaly share.
    """
    n = len(matrix)
    if n <= _SCALAR_ROWS:
        return _combine_few(matrix, rows, probability, isolation, params)
    columns = {name: matrix[:, j] for j, name in enumerate(FEATURES)}
    fired = rules_fire(columns, params)
    keep = np.ones(n) if probability is None else 1.0 - probability
    for rule in RULES:
        keep = np.where(fired[rule.id], keep * (1.0 - rule.weight), keep)
    scores = 1.0 - keep
    if rows is None:
        return scores, None
    reasons: list[list[dict]] = [[] for _ in range(n)]
    for rule in RULES:
        for i in np.flatnonzero(fired[rule.id]).tolist():
            reasons[i].append(_rule_reason(rule, rows[i]))
    if probability is not None:
        weights = [round(v, 6) for v in probability.tolist()]
        isolations = [round(v, 6) for v in isolation.tolist()]
        for i in range(n):
            reasons[i].append(_anomaly_reason(weights[i], isolations[i]))
    return scores, reasons


def _anomaly_reason(weight: float, isolation: float) -> dict:
    return {
        "id": "anomaly",
        "kind": "model",
        "weight": weight,
        "isolation_score": isolation,
        "fr": ANOMALY_FR,
        "en": ANOMALY_EN,
    }


def _combine_few(matrix, rows, probability, isolation, params) -> tuple[np.ndarray, list[list[dict]] | None]:
    # numpy's per-call overhead dominates for a few rows: the same products in
    # the same order, in Python floats (so the same scores as `combine_rows`).
    params = params if params.keys() >= DEFAULT_PARAMS.keys() else {**DEFAULT_PARAMS, **params}
    scores, reasons = [], []
    for i, values in enumerate(matrix.tolist()):
        features = dict(zip(FEATURES, values, strict=True))
        keep = 1.0 if probability is None else 1.0 - float(probability[i])
        row_reasons = []
        for rule in RULES:
            if rule.test(features, params):
                keep *= 1.0 - rule.weight
                if rows is not None:
                    row_reasons.append(_rule_reason(rule, rows[i]))
        if probability is not None and rows is not None:
            row_reasons.append(_anomaly_reason(round(float(probability[i]), 6), round(float(isolation[i]), 6)))
        scores.append(1.0 - keep)
        reasons.append(row_reasons)
    return np.array(scores), reasons if rows is not None else None


def default_action_result(*, model_version: str | None, error: str) -> CheckResult:
    """Return the configured default decision when scoring failed: no score is invented."""
    decision = settings.FRAUD_DEFAULT_ACTION
    return CheckResult(
        fraud_score=None,
        is_fraud=decision == "hold",
        decision=decision,
        reasons=[
            {
                "id": "scoring_failed",
                "kind": "default_action",
                "weight": None,
                "fr": "Échec du calcul du score : action par défaut appliquée.",
                "en": "Scoring failed: the default action was applied.",
            }
        ],
        model_version=model_version,
        fallback=True,
        default_action_applied=True,
        error=error,
    )


RULES_VERSION = "rules-v1"


def _decisions(scores: np.ndarray) -> list[str]:
    if len(scores) <= _SCALAR_ROWS:
        return [decide(score) for score in scores.tolist()]
    hold, review = settings.FRAUD_HOLD_THRESHOLD, settings.FRAUD_REVIEW_THRESHOLD
    return np.where(scores >= hold, "hold", np.where(scores >= review, "review", "allow")).tolist()


def score_rows(rows: list[dict], *, members: list | None = None) -> list[CheckResult]:
    """Score feature dicts (the five features each) in one vectorised pass; never raises.

    With a challenger set (`sunusav.ml.registry`), the same rows are scored
    by it too: its answer (score, decision, version) lands in each result's
    `extra["shadow"]` for the audit row and is never served, except for the
    members of its A/B share (`members`: one reference per row, by default
    each row's `user_id`), which it serves while the champion's answer
    becomes the shadow. `extra["arm"]` names who served. A challenger that
    raises is logged and dropped until the next refresh; the served answers
    are then the champion's, unchanged.
    """
    loaded, challenger = registry.get_serving(MODEL_NAME)
    results, matrix = _score_champion(rows, loaded)
    if challenger is None or matrix is None:
        return results
    return _with_challenger(rows, members, matrix, results, challenger)


def _score_champion(rows: list[dict], loaded) -> tuple[list[CheckResult], np.ndarray | None]:
    """Return the champion's (or the rules') results and the feature matrix (None if it could not be built)."""
    # The rules answering alone still name what decided (as credit's `rules-v1` does).
    version = loaded.version if loaded else RULES_VERSION
    n = len(rows)
    matrix = None
    try:
        matrix = np.fromiter(
            itertools.chain.from_iterable(map(_feature_values, rows)), dtype=np.float64, count=n * len(FEATURES)
        ).reshape(n, len(FEATURES))
        timings.mark("features")
        if loaded is not None:
            isolation, probability = loaded.model.anomaly(matrix)
            if probability.shape != (n,) or not math.isfinite(float(probability.sum())):
                raise ValueError("model returned non-finite or misshaped scores")
            params = loaded.model.rule_params
        else:
            isolation = probability = None
            params = DEFAULT_PARAMS
        timings.mark("model")
    except Exception as exc:
        # The model broke at predict time: drop it (the registry retries at its
        # next refresh) and apply the configured default to this request.
        logger.exception("fraud model %s failed to score", version)
        registry.mark_failed(MODEL_NAME, f"predict failed: {type(exc).__name__}: {exc}")
        return [
            default_action_result(model_version=version, error=f"{type(exc).__name__}: {exc}") for _ in rows
        ], matrix
    try:
        results = _results(matrix, rows, isolation, probability, params, version, fallback=loaded is None)
        timings.mark("rules")
    except Exception as exc:
        logger.exception("fraud rules failed")
        return [
            default_action_result(model_version=version, error=f"{type(exc).__name__}: {exc}") for _ in rows
        ], matrix
    return results, matrix


def _results(matrix, rows, isolation, probability, params, version: str, *, fallback: bool) -> list[CheckResult]:
    scores, reasons = combine_rows(matrix, rows, probability, isolation, params)
    if not math.isfinite(float(scores.sum())):
        raise ValueError("non-finite fraud score")
    if reasons is None:  # scores only (a challenger's shadow answers)
        reasons = [[] for _ in range(len(matrix))]
    isolations = [None] * len(matrix) if isolation is None else isolation.tolist()
    rounded = [round(v, 6) for v in scores.tolist()]
    return [
        CheckResult(
            fraud_score=score,
            is_fraud=decision == "hold",
            decision=decision,
            reasons=reasons_i,
            model_version=version,
            fallback=fallback,
            isolation_score=iso,
        )
        for score, decision, reasons_i, iso in zip(rounded, _decisions(scores), reasons, isolations, strict=True)
    ]


def _answer(result: CheckResult, role: str) -> dict:
    return {
        "role": role,
        "model_version": result.model_version,
        "fraud_score": result.fraud_score,
        "decision": result.decision,
    }


def _with_challenger(rows, members, matrix, results: list[CheckResult], challenger) -> list[CheckResult]:
    n = len(rows)
    try:
        keys = members if members is not None else [row.get("user_id") for row in rows]
        on = challenger_arms(MODEL_NAME, keys, challenger.ab_share, n)
    except Exception:
        logger.exception("fraud A/B split failed: the champion serves every row")
        on = np.zeros(n, dtype=bool)
    try:
        isolation, probability = challenger.model.anomaly(matrix)
        if probability.shape != (n,) or not math.isfinite(float(probability.sum())):
            raise ValueError("challenger returned non-finite or misshaped scores")
        params = challenger.model.rule_params
        # Scores and decisions of every row (what a shadow keeps) ...
        scores, _ = combine_rows(matrix, None, probability, isolation, params)
        if not math.isfinite(float(scores.sum())):
            raise ValueError("non-finite fraud score")
        shadows = [
            {"role": CHALLENGER, "model_version": challenger.version, "fraud_score": round(s, 6), "decision": d}
            for s, d in zip(scores.tolist(), _decisions(scores), strict=True)
        ]
        # ... and full answers (reasons) only for the rows of its A/B share, which it serves.
        idx = np.flatnonzero(on).tolist()
        if idx:
            sub = [rows[i] for i in idx]
            candidates = _results(
                matrix[idx], sub, isolation[idx], probability[idx], params, challenger.version, fallback=False
            )
    except Exception as exc:
        logger.exception("fraud challenger %s failed to score (champion unaffected)", challenger.version)
        registry.mark_challenger_failed(MODEL_NAME, f"predict failed: {type(exc).__name__}: {exc}")
        failed = {"role": CHALLENGER, "model_version": challenger.version, "error": type(exc).__name__}
        for result in results:
            result.extra = {**result.extra, "arm": CHAMPION, "shadow": failed}
        timings.mark("shadow")
        return results
    served = list(results)
    for result, shadow in zip(results, shadows, strict=True):
        result.extra = {**result.extra, "arm": CHAMPION, "shadow": shadow}
    if idx:
        for i, candidate in zip(idx, candidates, strict=True):
            champion = results[i]
            candidate.extra = {"arm": CHALLENGER, "shadow": _answer(champion, CHAMPION)}
            served[i] = candidate
    timings.mark("shadow")
    return served
