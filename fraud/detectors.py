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

from fraud.features import CONTEXT_KEY, FEATURES
from fraud.forest import NumpyForest, OnnxForest, arrays_from_bytes
from fraud.member_context import SOURCE_DEFAULTS, SOURCE_HISTORY, unknown_context
from fraud.rules import DEFAULT_PARAMS, RULES, rules_fire, structuring_limit
from fraud.rules_engine import EFFECT_WEIGHT
from fraud.ruleset_serving import serving_rulesets
from fraud.supervised import BOOSTER_FILE, SupervisedFit, supervised_inputs, supervised_load
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
    # The supervised layer (fraud.supervised), when the card says it serves; None: anomaly and rules.
    supervised: SupervisedFit | None = None

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
    layers = manifest.get("layers") or {}
    supervised = None
    if layers.get("serving") == "supervised":
        supervised = supervised_load((path / BOOSTER_FILE).read_text(), layers["supervised"])
    model = FraudModel(
        forest=forest,
        calibration=manifest["calibration"],
        rule_params={**DEFAULT_PARAMS, **manifest.get("rule_params", {})},
        serving=serving,
        since_clip_sec=(manifest.get("model_input_params") or {}).get("since_clip_sec"),
        supervised=supervised,
    )
    forest.score_samples(model_inputs(np.zeros((1, len(FEATURES)))))  # warm the session; fail here, not in a request
    if supervised is not None:  # the booster too
        supervised.probability(np.zeros((1, len(supervised.names))))
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
    # The published ruleset that decided (fraud.ruleset_serving) and the ids of its rules that fired.
    ruleset_version: str | None = None
    rules_fired: list[str] = field(default_factory=list)
    # What the supervised layer knew of the member (fraud.member_context): `member_history`, or
    # `population_defaults` for an unknown member; None when the model serving reads no member baseline.
    member_context: str | None = None

    def as_dict(self) -> dict:
        return {
            "fraud_score": self.fraud_score,
            "is_fraud": self.is_fraud,
            "decision": self.decision,
            "reasons": self.reasons,
            "model_version": self.model_version,
            "fallback": self.fallback,
            "ruleset_version": self.ruleset_version,
            "rules_fired": self.rules_fired,
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


def combine_ruleset(
    matrix: np.ndarray,
    rows: list[dict] | None,
    probability: np.ndarray | None,
    isolation: np.ndarray | None,
    ruleset,
    *,
    reporting_limit: float | None = None,
    subject_rows: list[dict] | None = None,
    subject_columns: dict | None = None,
    suppressed_out: list | None = None,
    skip_weights: frozenset = frozenset(),
    context: np.ndarray | None = None,
) -> tuple[np.ndarray, list[list[dict]] | None, list[str | None], list[list[str]]]:
    """`combine_rows` with a compiled ruleset (`fraud.rules_engine`): scores, reasons, outcomes, fired ids.

    The same noisy-OR over the weight rules, multiplied in the ruleset's
    priority order (v1's order is today's, so the same floats); a firing
    outcome rule (hold, review, allow) gives its outcome, the first by
    priority among them deciding (`outcomes[i]`, None when none fired).
    A few rows go through the engine's scalar form, more through numpy.
    List facts (`member in list("...")`) read the subjects from `subject_rows`
    (by default `rows`: a check's `user_id`, and `device_id`, `location`,
    `phone_hash`, `node_pubkey` when given) or `subject_columns` (a backtest's
    stored payments); a subject that is absent is in no list.
    A rule an analyst snoozed for the row's member (`ruleset.suppressed`,
    by `user_id`) does not count; its id goes into `suppressed_out[i]`.
    The weight rules in `skip_weights` fire and are named, but their weight
    is not multiplied in (they are inputs of the supervised layer: `combine_served`).
    Member-context names (`fraud.member_context`) read `context` (n,
    len(CONTEXT)), by default each row's `CONTEXT_KEY` (unknown when absent).
    """
    subject_rows = rows if subject_rows is None else subject_rows
    n = len(matrix)
    limit = float(structuring_limit() if reporting_limit is None else reporting_limit)
    rules = ruleset.rules
    keep = np.ones(n) if probability is None else 1.0 - probability
    outcomes: list[str | None] = [None] * n
    fired_ids: list[list[str]] = [[] for _ in range(n)]
    snoozed = _snoozed(ruleset, subject_rows, n)
    if ruleset.context_names and context is None:
        context = _row_contexts(subject_rows, n)
    if suppressed_out is not None:
        suppressed_out[:] = [[] for _ in range(n)]
    if n <= _SCALAR_ROWS:
        fired_rows = []
        for i, values in enumerate(matrix.tolist()):
            facts = dict(zip(FEATURES, values, strict=True))
            facts["reporting_limit"] = limit
            if ruleset.list_refs:
                if subject_columns is not None:
                    subjects = {key: column[i] for key, column in subject_columns.items()}
                else:
                    subjects = subject_rows[i] if subject_rows is not None else {}
                facts.update(ruleset.memberships(subjects))
            if ruleset.context_names:
                facts.update(ruleset.context_facts(context[i]))
            fired_rows.append(ruleset.fired(facts))
        keeps = keep.tolist()
        for i, fired in enumerate(fired_rows):
            k = keeps[i]
            for rule, hit in zip(rules, fired, strict=True):
                if hit and snoozed and rule.id in snoozed.get(i, ()):
                    if suppressed_out is not None:
                        suppressed_out[i].append(rule.id)
                elif hit:
                    if rule.effect == EFFECT_WEIGHT:
                        if rule.id not in skip_weights:
                            k *= 1.0 - rule.weight
                    elif outcomes[i] is None:
                        outcomes[i] = rule.effect
                    fired_ids[i].append(rule.id)
            keeps[i] = k
        scores = 1.0 - np.array(keeps, dtype=np.float64)
    else:
        columns = {name: matrix[:, j] for j, name in enumerate(FEATURES)}
        columns["reporting_limit"] = limit
        if ruleset.list_refs:
            columns.update(ruleset.membership_columns(subject_rows, n, subject_columns))
        if ruleset.context_names:
            columns.update(ruleset.context_columns(context))
        fired_cols = ruleset.fire_columns(columns, n)
        for rule in rules:
            hits = fired_cols[rule.id]
            if snoozed:
                off = [i for i, ids in snoozed.items() if rule.id in ids and hits[i]]
                if off:
                    hits = hits.copy()
                    hits[off] = False
                    if suppressed_out is not None:
                        for i in off:
                            suppressed_out[i].append(rule.id)
            if rule.effect == EFFECT_WEIGHT and rule.id not in skip_weights:
                keep = np.where(hits, keep * (1.0 - rule.weight), keep)
            for i in np.flatnonzero(hits).tolist():
                if rule.effect != EFFECT_WEIGHT and outcomes[i] is None:
                    outcomes[i] = rule.effect
                fired_ids[i].append(rule.id)
        scores = 1.0 - keep
    if rows is None:
        return scores, None, outcomes, fired_ids
    by_id = {rule.id: rule for rule in rules}
    reasons: list[list[dict]] = []
    for i in range(n):
        row_reasons = []
        if fired_ids[i]:
            facts = {**rows[i], "reporting_limit": limit}
            if ruleset.context_names:
                facts.update(ruleset.context_values(context[i]))
            row_reasons = [by_id[rule_id].reason(facts) for rule_id in fired_ids[i]]
            for reason in row_reasons if skip_weights else ():
                if reason["id"] in skip_weights:
                    reason["weight"] = 0.0  # inside the supervised layer's probability, not multiplied in
        if probability is not None:
            row_reasons.append(_anomaly_reason(round(float(probability[i]), 6), round(float(isolation[i]), 6)))
        reasons.append(row_reasons)
    return scores, reasons, outcomes, fired_ids


SUPERVISED_FR = (
    "Probabilité de fraude du modèle supervisé (appris des verdicts des analystes et de l'historique étiqueté)."
)
SUPERVISED_EN = "Fraud probability from the supervised model (learned from analysts' verdicts and labelled history)."


def combine_served(
    matrix: np.ndarray,
    rows: list[dict] | None,
    probability: np.ndarray | None,
    isolation: np.ndarray | None,
    ruleset,
    *,
    model=None,
    context: np.ndarray | None = None,
    **options,
) -> tuple[np.ndarray, list[list[dict]] | None, list[str | None], list[list[str]]]:
    """`combine_ruleset` with the model as it serves: its supervised layer when it has one (`fraud.supervised`).

    Without one (or without a model), the anomaly probability and the rules'
    weights combine by noisy-OR as before. With one, the layer's calibrated
    probability takes the anomaly's place and the weights of the rules it
    learned from (same id, same canonical expression) stay out of the
    product: their hits are its inputs. Outcome rules decide as always.
    `context`: the rows' member baselines (`fraud.member_context.CONTEXT`
    columns) when the layer reads them; None: the population defaults.
    """
    layer = getattr(model, "supervised", None)
    if layer is None or isolation is None:
        return combine_ruleset(matrix, rows, probability, isolation, ruleset, context=context, **options)
    learned = frozenset(rule.id for rule in ruleset.rules if layer.learned.get(rule.id) == rule.cel_source)
    n = len(matrix)
    if context is None and (layer.uses_context or ruleset.context_names):
        context = _row_contexts(rows if rows is not None else options.get("subject_rows"), n)
    rules_only, reasons, outcomes, fired = combine_ruleset(
        matrix, rows, None, None, ruleset, skip_weights=learned, context=context, **options
    )
    order = layer.rule_ids
    hits = np.zeros((n, len(order)))
    position = {rule_id: j for j, rule_id in enumerate(order)}
    for i, ids in enumerate(fired):
        for rule_id in ids:
            if rule_id in learned:
                hits[i, position[rule_id]] = 1.0
    inputs = supervised_inputs(
        model_inputs(matrix, model.since_clip_sec), isolation, hits, context if layer.uses_context else None
    )
    supervised = layer.probability(inputs)
    scores = 1.0 - (1.0 - supervised) * (1.0 - rules_only)
    if reasons is not None:
        for i, row_reasons in enumerate(reasons):
            row_reasons.append(_supervised_reason(round(float(supervised[i]), 6), round(float(isolation[i]), 6)))
    return scores, reasons, outcomes, fired


def _row_contexts(rows: list[dict] | None, n: int) -> np.ndarray:
    # A check's member baseline travels in its row (`CONTEXT_KEY`, set by fraud.services); absent: defaults.
    out = unknown_context(n)
    for i, row in enumerate(rows or ()):
        values = row.get(CONTEXT_KEY)
        if values is not None:
            out[i] = values
    return out


def context_read() -> bool:
    """Whether what serves now reads the member's baseline: a model (champion or challenger), or a rule
    of the published or shadow ruleset that names a member-context name."""
    loaded, challenger = registry.get_serving(MODEL_NAME)
    if any(
        m is not None and m.model.supervised is not None and m.model.supervised.uses_context
        for m in (loaded, challenger)
    ):
        return True
    return any(r is not None and r.context_names for r in serving_rulesets())


def _supervised_reason(weight: float, isolation: float) -> dict:
    return {
        "id": "supervised",
        "kind": "model",
        "weight": weight,
        "isolation_score": isolation,
        "fr": SUPERVISED_FR,
        "en": SUPERVISED_EN,
    }


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
    ruleset, shadow = serving_rulesets()
    results, matrix = _score_champion(rows, loaded, ruleset, shadow)
    if challenger is None or matrix is None:
        return results
    return _with_challenger(rows, members, matrix, results, challenger, ruleset)


def _score_champion(rows: list[dict], loaded, ruleset, shadow=None) -> tuple[list[CheckResult], np.ndarray | None]:
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
        else:
            isolation = probability = None
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
        model = loaded.model if loaded is not None else None
        results = _results(matrix, rows, isolation, probability, ruleset, version, fallback=loaded is None, model=model)
        timings.mark("rules")
        if shadow is not None:
            _ruleset_shadow(results, matrix, isolation, probability, shadow, rows, model)
    except Exception as exc:
        logger.exception("fraud rules failed")
        return [
            default_action_result(model_version=version, error=f"{type(exc).__name__}: {exc}") for _ in rows
        ], matrix
    return results, matrix


def _snoozed(ruleset, subject_rows, n) -> dict[int, frozenset]:
    """{row index: rule ids snoozed for its member} (empty when nothing is snoozed)."""
    suppressed = getattr(ruleset, "suppressed", None)
    if not suppressed or subject_rows is None:
        return {}
    out = {}
    for i in range(n):
        ids = suppressed.get(str(subject_rows[i].get("user_id")))
        if ids:
            out[i] = ids
    return out


def _ruleset_shadow(results, matrix, isolation, probability, shadow, subject_rows, model=None) -> None:
    """Add a shadow version's would-be answer to each result's `extra` (the audit row); never served."""
    try:
        scores, _, outcomes, fired = combine_served(
            matrix, None, probability, isolation, shadow, model=model, subject_rows=subject_rows
        )
        answers = [
            {"ruleset_version": shadow.version, "fraud_score": round(s, 6), "decision": d, "rules_fired": f}
            for s, d, f in zip(scores.tolist(), ruleset_decisions(scores, outcomes), fired, strict=True)
        ]
    except Exception:
        logger.exception("shadow ruleset %s failed (the served answers are unaffected)", shadow.version)
        return
    for result, answer in zip(results, answers, strict=True):
        result.extra = {**result.extra, "ruleset_shadow": answer}
    timings.mark("ruleset_shadow")


def ruleset_decisions(scores: np.ndarray, outcomes: list[str | None]) -> list[str]:
    """Decisions from the scores, a firing outcome rule's outcome taking precedence."""
    decisions = _decisions(scores)
    return [d if o is None else o for d, o in zip(decisions, outcomes, strict=True)]


def _results(
    matrix, rows, isolation, probability, ruleset, version: str, *, fallback: bool, model=None
) -> list[CheckResult]:
    suppressed: list = []
    scores, reasons, outcomes, fired = combine_served(
        matrix, rows, probability, isolation, ruleset, model=model, suppressed_out=suppressed
    )
    if not math.isfinite(float(scores.sum())):
        raise ValueError("non-finite fraud score")
    if reasons is None:  # scores only (a challenger's shadow answers)
        reasons = [[] for _ in range(len(matrix))]
    isolations = [None] * len(matrix) if isolation is None else isolation.tolist()
    rounded = [round(v, 6) for v in scores.tolist()]
    ruleset_version = ruleset.version
    layer = getattr(model, "supervised", None)
    if (layer is not None and layer.uses_context) or ruleset.context_names:
        sources = [SOURCE_HISTORY if row.get(CONTEXT_KEY) is not None else SOURCE_DEFAULTS for row in rows]
    else:
        sources = [None] * len(matrix)
    return [
        CheckResult(
            fraud_score=score,
            is_fraud=decision == "hold",
            decision=decision,
            reasons=reasons_i,
            model_version=version,
            fallback=fallback,
            isolation_score=iso,
            # In `extra` too, so the audit row (`fraud.services._metric_meta`) names them, and the rules that
            # would have fired but were snoozed for this member.
            extra={"ruleset_version": ruleset_version, "rules_fired": fired_i}
            | ({"member_context": source} if source else {})
            | ({"rules_suppressed": suppressed_i} if suppressed_i else {}),
            ruleset_version=ruleset_version,
            rules_fired=fired_i,
            member_context=source,
        )
        for score, decision, reasons_i, iso, fired_i, suppressed_i, source in zip(
            rounded,
            ruleset_decisions(scores, outcomes),
            reasons,
            isolations,
            fired,
            suppressed,
            sources,
            strict=True,
        )
    ]


def _answer(result: CheckResult, role: str) -> dict:
    return {
        "role": role,
        "model_version": result.model_version,
        "fraud_score": result.fraud_score,
        "decision": result.decision,
    }


def _with_challenger(rows, members, matrix, results: list[CheckResult], challenger, ruleset) -> list[CheckResult]:
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
        # Scores and decisions of every row (what a shadow keeps), with the same published rules ...
        scores, _, outcomes, _fired = combine_served(
            matrix, None, probability, isolation, ruleset, model=challenger.model, subject_rows=rows
        )
        if not math.isfinite(float(scores.sum())):
            raise ValueError("non-finite fraud score")
        shadows = [
            {"role": CHALLENGER, "model_version": challenger.version, "fraud_score": round(s, 6), "decision": d}
            for s, d in zip(scores.tolist(), ruleset_decisions(scores, outcomes), strict=True)
        ]
        # ... and full answers (reasons) only for the rows of its A/B share, which it serves.
        idx = np.flatnonzero(on).tolist()
        if idx:
            sub = [rows[i] for i in idx]
            candidates = _results(
                matrix[idx],
                sub,
                isolation[idx],
                probability[idx],
                ruleset,
                challenger.version,
                fallback=False,
                model=challenger.model,
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
            candidate.extra = {**candidate.extra, "arm": CHALLENGER, "shadow": _answer(champion, CHAMPION)}
            served[i] = candidate
    timings.mark("shadow")
    return served
