"""The fraud rules: a short, explicit list, each with a stable id and a sentence in French and English.

Rules read only the five features, so they work the same on the API's given
features and on features derived from stored history. Each firing rule adds
its `weight` to the fraud score by noisy-OR (`fraud.detectors.combine`): a
weight at or above the hold threshold holds on its own, a lower one sends the
payment to review unless the anomaly model agrees.

Amount limits depend on the traffic's scale, so training measures them on
normal traffic (percentiles of `amount_sats`) and writes them into the model
card as `rule_params`; without a model, `DEFAULT_PARAMS` apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_PARAMS: dict[str, float] = {
    # Invoices in the last minute from which a burst is suspicious / certain.
    "burst_invoices": 5,
    # Seconds between two payments under which the second is a rapid repeat.
    "rapid_repeat_sec": 10,
    # An amount at or above this is unusual for normal traffic (training: p95).
    "unusual_amount_sats": 200_000,
    # Far outside normal traffic (training: 5x the p99.9 of normal amounts).
    "very_large_amount_sats": 5_000_000,
    # Structuring: several payments within this many seconds, each just under
    # the reporting limit (between floor_ratio x limit and the limit).
    "structuring_limit_sats": 1_000_000,
    "structuring_floor_ratio": 0.85,
    "structuring_window_sec": 3600,
}


@dataclass(frozen=True)
class Rule:
    """One rule: a stable id, its weight in the score, sentences, and its test."""

    id: str
    weight: float
    fr: str
    en: str
    test: Callable[[dict, dict], bool]


RULES: tuple[Rule, ...] = (
    Rule(
        id="invoice_burst",
        weight=0.9,
        fr="Rafale de factures : {invoices_last_min:.0f} factures en une minute.",
        en="Invoice burst: {invoices_last_min:.0f} invoices within one minute.",
        test=lambda f, p: f["invoices_last_min"] >= p["burst_invoices"],
    ),
    Rule(
        id="new_device_location_unusual_amount",
        weight=0.9,
        fr="Nouvel appareil et nouveau lieu avec un montant inhabituel ({amount_sats:.0f} sats).",
        en="New device and new location with an unusual amount ({amount_sats:.0f} sats).",
        test=lambda f, p: (
            f["device_changes"] >= 1 and f["location_changes"] >= 1 and f["amount_sats"] >= p["unusual_amount_sats"]
        ),
    ),
    Rule(
        id="rapid_repeat",
        weight=0.5,
        fr="Paiements répétés : {time_since_last_sec:.0f} s après le précédent.",
        en="Rapid repeat: {time_since_last_sec:.0f} s after the previous payment.",
        test=lambda f, p: f["time_since_last_sec"] < p["rapid_repeat_sec"],
    ),
    Rule(
        id="structuring",
        weight=0.6,
        fr="Fractionnement : montant juste sous le seuil déclaratif, peu après un autre paiement.",
        en="Structuring: amount just under the reporting limit, shortly after another payment.",
        test=lambda f, p: (
            p["structuring_floor_ratio"] * p["structuring_limit_sats"] <= f["amount_sats"] < p["structuring_limit_sats"]
            and f["time_since_last_sec"] < p["structuring_window_sec"]
        ),
    ),
    Rule(
        id="very_large_amount",
        weight=0.6,
        fr="Montant très élevé ({amount_sats:.0f} sats), loin du trafic normal.",
        en="Very large amount ({amount_sats:.0f} sats), far outside normal traffic.",
        test=lambda f, p: f["amount_sats"] >= p["very_large_amount_sats"],
    ),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}


def rules_evaluate(features: dict, params: dict | None = None) -> list[Rule]:
    """Return the rules that fire for one payment's features."""
    params = DEFAULT_PARAMS if params is None else {**DEFAULT_PARAMS, **params}
    return [rule for rule in RULES if rule.test(features, params)]


def rules_catalogue() -> list[dict]:
    """Return the rules as documentation rows (for the model card and the admin)."""
    return [{"id": r.id, "weight": r.weight, "fr": r.fr, "en": r.en} for r in RULES]
