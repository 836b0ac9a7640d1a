"""The credit model in memory, the rule fallback, bands, confidence and reason codes.

Scores are P(repay): LightGBM's raw margin (trained on repaid = 1) mapped
through the calibration stored in the artifact, applied with numpy. Serving
uses `Booster.predict` on a numpy array, never the sklearn wrapper.

When no model is active, or loading or predicting fails, `RULES` answers:
a short, monotone scorecard (see `rules_score`) with `fallback: true`.

Decisions go through `serve_matrix`: with a challenger set it scores the same
rows in shadow (or serves its A/B share of members), see `backoffice.shadow`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from credit.features import FEATURES
from sunusav import timings
from sunusav.ml.ab import CHALLENGER, CHAMPION, challenger_arms
from sunusav.ml.registry import registry

logger = logging.getLogger(__name__)

MODEL_NAME = "credit"
RULES_VERSION = "rules-v1"

# Lower bounds of P(repay) for bands A (best) .. D; below D's bound is E.
BAND_CUTOFFS: tuple[tuple[str, float], ...] = (("A", 0.90), ("B", 0.80), ("C", 0.65), ("D", 0.50))
LOWEST_BAND = "E"
BANDS_BEST_FIRST: tuple[str, ...] = (*(band for band, _ in BAND_CUTOFFS), LOWEST_BAND)
# (band, lower bound or None, upper bound or None): the same cut-offs as score ranges, for queries.
BAND_RANGES: tuple[tuple[str, float | None, float | None], ...] = tuple(
    (band, low, high)
    for band, low, high in zip(
        BANDS_BEST_FIRST,
        (*(c for _, c in BAND_CUTOFFS), None),
        (None, *(c for _, c in BAND_CUTOFFS)),
        strict=True,
    )
)
# A score at or above this is an offer; below it a decline (accuracy is measured here).
DECISION_THRESHOLD = 0.65
# History (paid contributions) at which the evidence half of the confidence is full.
FULL_EVIDENCE_CONTRIBUTIONS = 12
# The rule fallback is cruder than a trained model: its confidence is scaled down.
RULES_CONFIDENCE_FACTOR = 0.6
MAX_REASONS = 3

# Stable reason codes: what a feature pulling the score down says about the member.
REASONS: dict[str, tuple[str, str, str]] = {
    "tontine_contributions": (
        "LOW_CONTRIBUTED_AMOUNT",
        "Montant cotisé faible sur les 12 derniers mois.",
        "Low amount contributed over the last 12 months.",
    ),
    "punctuality_rate": (
        "LOW_PUNCTUALITY",
        "Trop de cotisations payées en retard ou impayées.",
        "Too many contributions paid late or not paid.",
    ),
    "contributions_count": (
        "SHORT_HISTORY",
        "Historique de cotisations encore court.",
        "Contribution history is still short.",
    ),
    "mobile_tx_volume": (
        "LOW_MOBILE_MONEY_ACTIVITY",
        "Peu d'activité mobile money sur les 12 derniers mois.",
        "Little mobile-money activity over the last 12 months.",
    ),
    "avg_payment_delay_days": (
        "HIGH_PAYMENT_DELAY",
        "Retard moyen de paiement élevé.",
        "High average payment delay.",
    ),
    "community_endorsements": (
        "FEW_ENDORSEMENTS",
        "Peu de recommandations de la communauté.",
        "Few endorsements from the community.",
    ),
}

# LightGBM monotone constraints on P(repay), in FEATURES order.
MONOTONE_CONSTRAINTS: tuple[int, ...] = tuple(
    {"punctuality_rate": 1, "community_endorsements": 1, "avg_payment_delay_days": -1}.get(name, 0) for name in FEATURES
)


@dataclass(frozen=True)
class Prediction:
    """One scored row."""

    score: float
    confidence: float
    band: str
    model_version: str
    fallback: bool
    reasons: list[dict] = field(default_factory=list)
    # Audit only, never in the answer: the other model's answer while a
    # challenger runs, and which arm (champion / challenger) served this one.
    shadow: dict | None = None
    arm: str | None = None

    def audit_extra(self) -> dict:
        """Return the `arm` and `shadow` keys of the decision's audit meta (empty without a challenger)."""
        return {} if self.arm is None else {"arm": self.arm, "shadow": self.shadow}

    def as_dict(self) -> dict:
        return {
            "score": self.score,
            "confidence": self.confidence,
            "band": self.band,
            "reasons": self.reasons,
            "model_version": self.model_version,
            "fallback": self.fallback,
        }


# --- Calibration -------------------------------------------------------------------


def calibration_apply(calibration: dict, margin: np.ndarray) -> np.ndarray:
    """Map raw margins to P(repay) with a stored isotonic or Platt calibration."""
    if calibration["method"] == "isotonic":
        return np.interp(margin, np.asarray(calibration["x"]), np.asarray(calibration["y"]))
    if calibration["method"] == "platt":
        return 1.0 / (1.0 + np.exp(-(calibration["a"] * margin + calibration["b"])))
    raise ValueError(f"unknown calibration {calibration['method']!r}")


# --- Bands, confidence, reasons --------------------------------------------------


def _band(score: float) -> str:
    for band, cutoff in BAND_CUTOFFS:
        if score >= cutoff:
            return band
    return LOWEST_BAND


def bands_of(scores: np.ndarray) -> list[str]:
    """Return the band (A best .. E) of each score."""
    if len(scores) <= 4:  # numpy's per-call overhead dominates for a few rows (single predicts)
        return [_band(v) for v in scores.tolist()]
    cutoffs = np.array([c for _, c in BAND_CUTOFFS])
    letters = np.array(BANDS_BEST_FIRST)
    # Number of cutoffs a score falls below = index of its band.
    return letters[(scores[:, None] < cutoffs[None, :]).sum(axis=1)].tolist()


def confidences_of(scores: np.ndarray, X: np.ndarray, *, fallback: bool) -> np.ndarray:
    """Return how far to trust each score, in [0, 1].

    Half is the model's certainty (|2p - 1|), half the amount of history behind
    the features (paid contributions / FULL_EVIDENCE_CONTRIBUTIONS, capped at 1).
    """
    certainty = np.abs(2.0 * scores - 1.0)
    evidence = np.minimum(X[:, FEATURES.index("contributions_count")] / FULL_EVIDENCE_CONTRIBUTIONS, 1.0)
    confidence = 0.5 * certainty + 0.5 * evidence
    if fallback:
        confidence = confidence * RULES_CONFIDENCE_FACTOR
    return np.round(confidence, 3)


def reasons_from_contributions(contrib: np.ndarray) -> list[list[dict]]:
    """Return, per row, the features that pulled the score down most (negative contribution first)."""
    out = []
    for row in contrib:
        order = np.argsort(row[: len(FEATURES)])
        reasons = []
        for j in order[:MAX_REASONS]:
            if row[j] >= 0:
                break
            code, fr, en = REASONS[FEATURES[j]]
            reasons.append(
                {"code": code, "feature": FEATURES[j], "impact": round(float(row[j]), 4), "fr": fr, "en": en}
            )
        out.append(reasons)
    return out


# --- Rule fallback ----------------------------------------------------------------


def _rules_points(X: np.ndarray) -> np.ndarray:
    """Return each rule's points (n x 6, FEATURES order); every rule is monotone in its feature.

    Scorecard (base 0.30, then clipped to [0.02, 0.98]):
      tontine_contributions   +0.05 from 50,000 sats paid in the window
      punctuality_rate        +0.35 x rate
      contributions_count     +0.015 per paid contribution, up to +0.15 (10)
      mobile_tx_volume        +0.04 from 10,000 XOF, +0.08 from 50,000 XOF
      avg_payment_delay_days  -0.04 per day of average delay, down to -0.20
      community_endorsements  +0.03 per endorsement, up to +0.12 (4)
    """
    f = {name: X[:, i] for i, name in enumerate(FEATURES)}
    return np.column_stack(
        [
            np.where(f["tontine_contributions"] >= 50_000, 0.05, 0.0),
            0.35 * np.clip(f["punctuality_rate"], 0.0, 1.0),
            0.015 * np.minimum(f["contributions_count"], 10),
            np.where(f["mobile_tx_volume"] >= 50_000, 0.08, np.where(f["mobile_tx_volume"] >= 10_000, 0.04, 0.0)),
            -0.04 * np.minimum(f["avg_payment_delay_days"], 5.0),
            0.03 * np.minimum(f["community_endorsements"], 4),
        ]
    )


# Best possible points per rule: a rule's shortfall from it is its "contribution" for reasons.
_RULES_BEST = np.array([0.05, 0.35, 0.15, 0.08, 0.0, 0.12])


def rules_score(X: np.ndarray) -> np.ndarray:
    """Return the fallback scorecard's P(repay) estimate of each row."""
    return np.clip(0.30 + _rules_points(X).sum(axis=1), 0.02, 0.98)


def rules_contributions(X: np.ndarray) -> np.ndarray:
    """Return each rule's shortfall from its best points (<= 0), shaped like pred_contrib."""
    return _rules_points(X) - _RULES_BEST


# --- The trained model ---------------------------------------------------------------


@dataclass
class CreditModel:
    """A loaded credit artifact: booster, calibration, feature order."""

    booster: object
    calibration: dict
    features: tuple[str, ...]
    version: str

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Return calibrated P(repay) for each row."""
        # One thread: OpenMP hand-offs cost milliseconds on a busy 2-core box,
        # more than the whole single-row predict (tens of microseconds).
        margin = self.booster.predict(X, raw_score=True, num_threads=1)
        return np.clip(calibration_apply(self.calibration, margin), 0.0, 1.0)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Return LightGBM's per-feature contributions to the margin (last column: bias)."""
        # TreeSHAP is ~0.1 ms a row: big batches are worth a second thread.
        return self.booster.predict(X, pred_contrib=True, num_threads=2 if len(X) >= 200 else 1)

    def scores_and_contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return `scores(X)` and `contributions(X)` from one LightGBM call.

        TreeSHAP contributions sum to the raw margin (bias included), so when
        every row needs its reasons the margin need not be predicted twice
        (saves ~0.1 ms of call overhead on a single predict).
        """
        contrib = self.contributions(X)
        margin = contrib.sum(axis=1)
        return np.clip(calibration_apply(self.calibration, margin), 0.0, 1.0), contrib


def credit_model_load(path: Path, manifest: dict) -> CreditModel:
    """Load an artifact folder (the registry's loader for `credit`)."""
    import lightgbm as lgb

    features = tuple(manifest["features"])
    if features != FEATURES:
        raise ValueError(f"artifact features {features} differ from the code's {FEATURES}")
    booster = lgb.Booster(model_str=(path / "model.txt").read_text())
    if booster.num_feature() != len(FEATURES):
        raise ValueError("booster feature count differs from the manifest")
    calibration = json.loads((path / "calibration.json").read_text())
    model = CreditModel(booster=booster, calibration=calibration, features=features, version=manifest["version"])
    # Fail at load, not on the first request, if the artifact cannot predict.
    model.scores(np.zeros((1, len(FEATURES))))
    return model


# --- Scoring with fallback --------------------------------------------------------------


@dataclass
class ScoredBatch:
    """Scores of many rows, as arrays (what batch scoring writes).

    With a challenger, `arms` says who served each row and `shadow` holds the
    other model's answer (audit only); when the two arms share a batch,
    `versions` and `fallbacks` give each row's own (`model_version` and
    `fallback` then describe the champion).
    """

    scores: np.ndarray
    confidences: np.ndarray
    bands: list[str]
    reasons: list[list[dict] | None]
    model_version: str
    fallback: bool
    versions: list[str] | None = None
    fallbacks: list[bool] | None = None
    shadow: list[dict | None] | None = None
    arms: list[str] | None = None

    def version_of(self, i: int) -> str:
        return self.model_version if self.versions is None else self.versions[i]

    def fallback_of(self, i: int) -> bool:
        return self.fallback if self.fallbacks is None else self.fallbacks[i]

    def audit_extra(self, i: int) -> dict:
        """Return row i's `arm` and `shadow` audit keys (empty without a challenger)."""
        return {} if self.arms is None else {"arm": self.arms[i], "shadow": self.shadow[i]}

    def prediction(self, i: int) -> Prediction:
        return Prediction(
            score=float(self.scores[i]),
            confidence=float(self.confidences[i]),
            band=self.bands[i],
            model_version=self.version_of(i),
            fallback=self.fallback_of(i),
            reasons=self.reasons[i] or [],
            shadow=None if self.shadow is None else self.shadow[i],
            arm=None if self.arms is None else self.arms[i],
        )


def score_matrix(
    X: np.ndarray, *, reasons: bool | np.ndarray = True, reasons_below: float | None = None
) -> ScoredBatch:
    """Score a feature matrix with the active model, or the rule fallback if it is unusable.

    Reasons (about 1 ms a row with the model) are computed for rows where
    `reasons` is true, and, when `reasons_below` is given, only for rows whose
    score is below it (declines). The champion alone: decisions use `serve_matrix`.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    return _score_champion(X, registry.get_active(MODEL_NAME), reasons, reasons_below)


def _score_champion(X: np.ndarray, loaded, reasons, reasons_below) -> ScoredBatch:
    model = loaded.model if loaded is not None else None
    if model is not None:
        try:
            if reasons_below is None and np.all(reasons):
                scores, contrib = model.scores_and_contributions(X)
                return _scored(X, lambda _: scores, lambda rows: contrib, model.version, False, reasons, reasons_below)
            return _scored(X, model.scores, model.contributions, model.version, False, reasons, reasons_below)
        except Exception as exc:  # a model that cannot predict must not take the API down
            logger.exception("credit model %s failed to predict", model.version)
            registry.mark_failed(MODEL_NAME, f"predict failed: {type(exc).__name__}: {exc}")
    return _scored(X, rules_score, rules_contributions, RULES_VERSION, True, reasons, reasons_below)


def serve_matrix(
    X: np.ndarray,
    *,
    members: Sequence | None = None,
    reasons: bool | np.ndarray = True,
    reasons_below: float | None = None,
) -> ScoredBatch:
    """Score rows for decisions: `score_matrix`, plus the challenger when one is set.

    `members` (one reference per row: member id or API `user_id`) places each
    row in the challenger's A/B share (`backoffice.shadow.challenger_arms`). The
    champion serves the other rows, and each row's audit keeps the model that
    did not serve it in `shadow` (score, band, version). The challenger's
    answer is never served outside its share, and any exception it raises is
    logged, drops it until the registry's next refresh, and changes nothing in
    what is served. Without a challenger this is `score_matrix` exactly.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    loaded, challenger = registry.get_serving(MODEL_NAME)
    if challenger is None:
        return _score_champion(X, loaded, reasons, reasons_below)
    n = len(X)
    try:
        on = challenger_arms(MODEL_NAME, members, challenger.ab_share, n)
    except Exception:
        logger.exception("credit A/B split failed: the champion serves every row")
        on = np.zeros(n, dtype=bool)
    split = bool(on.any())
    want = np.broadcast_to(np.asarray(reasons, dtype=bool), (n,)) if split else None
    champion = _score_champion(X, loaded, want & ~on if split else reasons, reasons_below)
    timings.mark(_stage(champion.fallback))
    try:
        model = challenger.model
        if split:
            other = _scored(X, model.scores, model.contributions, challenger.version, False, want & on, reasons_below)
        else:  # pure shadow: score and band only (~25 us a call, not the ~50 of a full `_scored`)
            scores = np.round(model.scores(X), 3)
            shadow = _shadow_answers(scores, challenger.version)
    except Exception as exc:
        logger.exception("credit challenger %s failed to predict (champion unaffected)", challenger.version)
        registry.mark_challenger_failed(MODEL_NAME, f"predict failed: {type(exc).__name__}: {exc}")
        if split:  # the rows meant for the challenger get the champion's full answer
            champion = _score_champion(X, loaded, reasons, reasons_below)
        failed = {"role": CHALLENGER, "model_version": challenger.version, "error": type(exc).__name__}
        champion.arms, champion.shadow = [CHAMPION] * n, [failed] * n
        timings.mark("shadow")
        return champion
    timings.mark("shadow")
    if not split:
        champion.arms, champion.shadow = [CHAMPION] * n, shadow
        return champion
    return _merged(champion, other, on)


def _stage(fallback: bool) -> str:
    return "rules" if fallback else "model"


def _shadow_answers(scores: np.ndarray, version: str) -> list[dict]:
    values = scores.tolist()
    bands = bands_of(scores)
    return [
        {"role": CHALLENGER, "model_version": version, "score": v, "band": b}
        for v, b in zip(values, bands, strict=True)
    ]


def _answers(batch: ScoredBatch, role: str, rows) -> list[dict]:
    scores = batch.scores.tolist()
    return [
        {"role": role, "model_version": batch.version_of(i), "score": scores[i], "band": batch.bands[i]} for i in rows
    ]


def _merged(champion: ScoredBatch, challenger: ScoredBatch, on: np.ndarray) -> ScoredBatch:
    """Serve the challenger's rows where `on`, the champion's elsewhere; the other answer of each row is its shadow."""
    n = len(on)
    flags = on.tolist()
    champion_answers = _answers(champion, CHAMPION, range(n))
    challenger_answers = _answers(challenger, CHALLENGER, range(n))
    everyone = all(flags)
    return ScoredBatch(
        scores=np.where(on, challenger.scores, champion.scores),
        confidences=np.where(on, challenger.confidences, champion.confidences),
        bands=[c if f else h for f, c, h in zip(flags, challenger.bands, champion.bands, strict=True)],
        reasons=[c if f else h for f, c, h in zip(flags, challenger.reasons, champion.reasons, strict=True)],
        model_version=challenger.model_version if everyone else champion.model_version,
        fallback=False if everyone else champion.fallback,
        versions=[challenger.model_version if f else champion.version_of(i) for i, f in enumerate(flags)],
        fallbacks=[False if f else champion.fallback_of(i) for i, f in enumerate(flags)],
        shadow=[champion_answers[i] if f else challenger_answers[i] for i, f in enumerate(flags)],
        arms=[CHALLENGER if f else CHAMPION for f in flags],
    )


def _scored(X, score_fn, contrib_fn, version, fallback, reasons, reasons_below) -> ScoredBatch:
    scores = np.round(score_fn(X), 3)
    need = np.broadcast_to(np.asarray(reasons, dtype=bool), scores.shape).copy()
    if reasons_below is not None:
        need &= scores < reasons_below
    row_reasons: list[list[dict] | None] = [None] * len(scores)
    if need.any():
        idx = np.flatnonzero(need)
        for i, r in zip(idx, reasons_from_contributions(contrib_fn(X[idx])), strict=True):
            row_reasons[i] = r
    return ScoredBatch(
        scores=scores,
        confidences=confidences_of(scores, X, fallback=fallback),
        bands=bands_of(scores),
        reasons=row_reasons,
        model_version=version,
        fallback=fallback,
    )
