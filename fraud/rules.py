"""The fraud rules: a short, explicit list, each with a stable id and a sentence in French and English.

Rules read only the five features, so they work the same on the API's given
features and on features derived from stored history. Each firing rule adds
its `weight` to the fraud score by noisy-OR (`fraud.detectors.combine`): a
weight at or above the hold threshold (0.8) holds on its own, a lower one sends
the payment to review unless the anomaly model agrees.

Every rule test is written with `&` and comparisons only, so the same lambda
takes one payment's scalars (the API) or whole feature columns (training's
tuning, `rules_fire`).

Parameters come from training (`fraud.training.rules_tune`, written into the
model card as `rule_params` with each choice's false-alarm rate on normal fit
traffic and recall on the validation half): for each rule, the candidate that
catches the most validation fraud while firing on at most
`RULE_FALSE_ALARM_BUDGET` of normal fit payments. Without a model,
`DEFAULT_PARAMS` apply: the values training picked on the demo world (20,000
members, seed 7), where normal traffic showed

- at most 2 invoices in any minute (6 of 280,563 payments at 2, none above),
  while a burst is 8-20 invoices in about a minute: from its 3rd invoice on a
  burst is certain, so `burst_invoices` = 3 holds (0 false alarms in fit);
- 18 of 280,563 payments (6e-5) less than 15 s after the previous one (double
  taps, near-simultaneous invoices), while rapid repeats come 2-15 s apart and
  burst invoices 1-4 s apart: `rapid_repeat_sec` = 15 holds (5.6e-5 false
  alarms in fit), for amounts of at least `rapid_repeat_min_sats` (787, the
  p1 of normal amounts: a repeated few-sat test payment is no fraud);
- 1.5e-5 of payments within 2.5 % under the reporting limit less than 6 h
  after another one, while structuring cuts a sum into amounts 97.5-99.9 % of
  the limit, 1-4 minutes apart: that pair holds; such an amount alone goes to
  review (`near_reporting_limit`: the first of a run looks like this);
- device and location both changed on 0.7 % of payments, mostly with ordinary
  amounts; past 86,349 sats (p99 of normal amounts, 3.1e-5 false alarms) the
  pair marks an account takeover (10-100x the member's usual amount); the
  smaller takeovers are left to the anomaly model.

The reporting limit itself is one setting, `FRAUD_STRUCTURING_LIMIT_SATS`,
read at each evaluation (not from the model card), so the rule always watches
the limit in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

# A weight that holds on its own (noisy-OR with anything gives >= 0.9 >= the hold threshold).
HOLD_WEIGHT = 0.9
REVIEW_WEIGHT = 0.5

DEFAULT_PARAMS: dict[str, float] = {
    # Invoices in the last minute (this one included) from which a burst holds.
    "burst_invoices": 3,
    # Seconds since the previous payment under which this one is a rapid repeat ...
    "rapid_repeat_sec": 15,
    # ... when it moves at least this many sats.
    "rapid_repeat_min_sats": 787,
    # With a new device and a new location, an amount at or above this is a takeover.
    "unusual_amount_sats": 86_349,
    # Far outside normal traffic (training: 5x the p99.9 of normal amounts); review only.
    "very_large_amount_sats": 823_782,
    # Structuring: an amount in [floor_ratio x limit, limit) less than window_sec
    # after the previous payment holds; alone it is sent to review.
    "structuring_floor_ratio": 0.975,
    "structuring_window_sec": 21_600,
}


def structuring_limit() -> int:
    """Return the reporting limit in force (`FRAUD_STRUCTURING_LIMIT_SATS`)."""
    return settings.FRAUD_STRUCTURING_LIMIT_SATS


def _near_limit(f, p):
    limit = structuring_limit()
    return (f["amount_sats"] >= p["structuring_floor_ratio"] * limit) & (f["amount_sats"] < limit)


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
        weight=HOLD_WEIGHT,
        fr="Rafale de factures : {invoices_last_min:.0f} factures en une minute.",
        en="Invoice burst: {invoices_last_min:.0f} invoices within one minute.",
        test=lambda f, p: f["invoices_last_min"] >= p["burst_invoices"],
    ),
    Rule(
        id="new_device_location_unusual_amount",
        weight=HOLD_WEIGHT,
        fr="Nouvel appareil et nouveau lieu avec un montant inhabituel ({amount_sats:.0f} sats).",
        en="New device and new location with an unusual amount ({amount_sats:.0f} sats).",
        test=lambda f, p: (
            (f["device_changes"] >= 1) & (f["location_changes"] >= 1) & (f["amount_sats"] >= p["unusual_amount_sats"])
        ),
    ),
    Rule(
        id="rapid_repeat",
        weight=HOLD_WEIGHT,
        fr="Paiements répétés : {time_since_last_sec:.0f} s après le précédent.",
        en="Rapid repeat: {time_since_last_sec:.0f} s after the previous payment.",
        test=lambda f, p: (
            (f["time_since_last_sec"] < p["rapid_repeat_sec"]) & (f["amount_sats"] >= p["rapid_repeat_min_sats"])
        ),
    ),
    Rule(
        id="structuring",
        weight=HOLD_WEIGHT,
        fr="Fractionnement : montant juste sous le seuil déclaratif, peu après un autre paiement.",
        en="Structuring: amount just under the reporting limit, shortly after another payment.",
        test=lambda f, p: _near_limit(f, p) & (f["time_since_last_sec"] < p["structuring_window_sec"]),
    ),
    Rule(
        id="near_reporting_limit",
        weight=REVIEW_WEIGHT,
        fr="Montant juste sous le seuil déclaratif ({amount_sats:.0f} sats) : à vérifier.",
        en="Amount just under the reporting limit ({amount_sats:.0f} sats): to be reviewed.",
        test=lambda f, p: _near_limit(f, p) & (f["time_since_last_sec"] >= p["structuring_window_sec"]),
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


def rules_fire(columns: dict, params: dict) -> dict:
    """Return {rule id: bool array} for feature columns (training's vectorised form of `rules_evaluate`)."""
    params = {**DEFAULT_PARAMS, **params}
    return {rule.id: rule.test(columns, params) for rule in RULES}


def rules_catalogue() -> list[dict]:
    """Return the rules as documentation rows (for the model card and the admin)."""
    return [{"id": r.id, "weight": r.weight, "fr": r.fr, "en": r.en} for r in RULES]
