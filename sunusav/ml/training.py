"""The one training contract both models follow, and the one rule that decides a promotion.

A trainer (registered per model on the registry, `Registry.register_trainer`)
fits a new version, writes its artifact and returns a `TrainResult`. Before a
new version may serve, it is compared with the active version *on the same
held-out rows* (`promotion_decide`): the active model is re-scored on the new
training's test split, never trusted for a metric it reported on another set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrainResult:
    """One training run: the new version, whether it now serves, and why."""

    name: str
    manifest: dict
    model_version: Any  # sunusav.models.ModelVersion
    activated: bool
    reason: str
    metric: str  # the held-out metric compared: "auc" (credit), "pr_auc" (fraud)
    score: float | None  # the new version's, on the held-out rows
    active_version: str | None  # the version active before this run
    active_score: float | None  # the active version's, on the same held-out rows
    rows: int | None  # training rows
    metrics: dict

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def summary(self) -> dict:
        """Return a JSON-able summary (a job's result, a command's output)."""
        return {
            "model": self.name,
            "version": self.version,
            "activated": self.activated,
            "why": self.reason,
            "rows": self.rows,
            "metric": self.metric,
            "score": self.score,
            "active_version": self.active_version,
            "active_score_on_same_rows": self.active_score,
            "metrics": {k: self.metrics[k] for k in ("auc", "pr_auc", "fpr") if k in self.metrics},
        }


def promotion_decide(
    *, metric: str, score: float | None, active_version: str | None, active_score: float | None, forced: bool
) -> tuple[bool, str]:
    """Return (activate, why): a new version serves if asked, if nothing usable serves, or if it beats the active one.

    Both scores come from the same held-out rows; a tie keeps the active version.
    """
    if forced:
        return True, "activated on request (--activate)"
    if active_version is None or active_score is None:
        return True, "no usable active model"
    if score is not None and score > active_score:
        return True, f"held-out {metric} {score} beats active {active_version} ({active_score}) on the same rows"
    return False, f"kept {active_version}: its held-out {metric} {active_score} >= {score} on the same rows"
