"""The shape of an alert's payload: built and read here, and nowhere else by key.

`ai_alerts.payload` is JSON (the seed's column). Each alert type's payload is
built by one function below (`fraud_suspect`, `credit_offer`,
`liquidity_short`, `endorsement_ring`) and read through `AlertPayload`, a
typed view with one property per key; an analyst's resolution is added by
`resolved`. Database lookups that filter on a payload key (a JSON path) use
the key constants (`PAYMENT_ID`, `KIND`, ...), so renaming a key is a change
in this module only. Missing keys read as None (older rows, other types).
"""

from __future__ import annotations

from dataclasses import dataclass

# Keys that database lookups and indexes use (alerts/models.py indexes payment_id, tontine_id and round).
PAYMENT_ID = "payment_id"
TONTINE_ID = "tontine_id"
ROUND = "round"
KIND = "kind"
RING_KEY = "ring_key"
OUTCOME = "outcome"
RESOLVED_BY = "resolved_by"
RESOLUTION_NOTE = "resolution_note"
REQUEST_ID = "request_id"

RING_KIND = "endorsement_ring"


# --- Builders, one per alert type -----------------------------------------------------------


def fraud_suspect(
    *,
    payment_id,
    features: dict,
    fraud_score: float | None,
    decision: str,
    is_fraud: bool,
    reasons: list,
    model_version: str | None,
    fallback: bool,
    default_action_applied: bool,
    isolation_score: float | None,
    amount_sats: int,
    request_id: str | None,
) -> dict:
    """Return the payload of a payment's `fraud_suspect` alert (its decision as the check made it)."""
    return {
        PAYMENT_ID: str(payment_id),
        "features": features,
        "fraud_score": fraud_score,
        "decision": decision,
        "is_fraud": is_fraud,
        "reasons": reasons,
        "model_version": model_version,
        "fallback": fallback,
        "default_action_applied": default_action_applied,
        "isolation_score": isolation_score,
        "amount_sats": amount_sats,
        REQUEST_ID: request_id,
    }


def credit_offer(
    *,
    score: float,
    band: str,
    offered_amount_xof: int,
    requested_amount_xof: int | None,
    limit_xof: int,
    model_version: str,
    request_id: str | None,
) -> dict:
    """Return the payload of a pre-approved microloan offer."""
    return {
        "score": score,
        "band": band,
        "offered_amount_xof": offered_amount_xof,
        "requested_amount_xof": requested_amount_xof,
        "limit_xof": limit_xof,
        "currency": "XOF",
        "model_version": model_version,
        REQUEST_ID: request_id,
    }


def liquidity_short(*, projection: dict, threshold_share: float, triggers: list[str]) -> dict:
    """Return the payload of a tontine round's liquidity alert: the projection, the threshold and what fired."""
    return {**projection, "threshold_share": threshold_share, "triggers": triggers}


def endorsement_ring(*, ring_key: str, member_ids: list[str], endorsements_inside: int, request_id: str | None) -> dict:
    """Return the payload of the review alert of a closed endorsement ring."""
    size = len(member_ids)
    return {
        KIND: RING_KIND,
        RING_KEY: ring_key,
        "member_ids": sorted(member_ids),
        "size": size,
        "endorsements_inside": endorsements_inside,
        "density": round(endorsements_inside / (size * (size - 1)), 4),
        "reason_fr": "Cercle de membres qui ne sont recommandés que les uns par les autres.",
        "reason_en": "Ring of members endorsed only by each other.",
        REQUEST_ID: request_id,
    }


def resolved(payload: dict | None, *, outcome: str, resolved_by: str, note: str) -> dict:
    """Return `payload` with an analyst's resolution added (outcome, who, note up to 2,000 characters)."""
    return {**(payload or {}), OUTCOME: str(outcome), RESOLVED_BY: resolved_by, RESOLUTION_NOTE: note[:2000]}


def with_loan(payload: dict | None, *, loan_id) -> dict:
    """Return a credit offer's payload once its loan exists."""
    return {**(payload or {}), "loan_id": str(loan_id)}


# --- The typed reader ---------------------------------------------------------------------------


def _get(name: str) -> property:
    return property(lambda self: self.raw.get(name), doc=f"`{name}` (None when absent).")


@dataclass(frozen=True)
class AlertPayload:
    """A read-only, typed view of an alert's payload: `AlertPayload.of(alert).fraud_score`."""

    raw: dict

    @classmethod
    def of(cls, alert) -> AlertPayload:
        """Return the view of an alert (or of a payload dict, or None)."""
        payload = alert if isinstance(alert, dict) or alert is None else alert.payload
        return cls(payload or {})

    # Every type
    request_id = _get(REQUEST_ID)
    model_version = _get("model_version")
    outcome = _get(OUTCOME)
    resolution_note = _get(RESOLUTION_NOTE)

    @property
    def resolved_by(self) -> str:
        """Who resolved the alert ("" for the system, or while open)."""
        return self.raw.get(RESOLVED_BY) or ""

    @property
    def resolved_by_the_system(self) -> bool:
        """Whether the system, not an analyst, resolved it (a hold's expiry default): not a verdict."""
        return self.raw.get(RESOLVED_BY) == ""

    @property
    def fallback(self) -> bool:
        return bool(self.raw.get("fallback", False))

    @property
    def reasons(self) -> list:
        return self.raw.get("reasons") or []

    @property
    def features(self) -> dict:
        return self.raw.get("features") or {}

    # fraud_suspect
    payment_id = _get(PAYMENT_ID)
    fraud_score = _get("fraud_score")
    isolation_score = _get("isolation_score")
    kind = _get(KIND)
    ring_key = _get(RING_KEY)

    @property
    def decision(self) -> str:
        """The check's decision; an alert from before decisions were stored was a hold."""
        return self.raw.get("decision", "hold")

    @property
    def is_fraud(self) -> bool:
        return bool(self.raw.get("is_fraud", self.decision == "hold"))

    @property
    def default_action_applied(self) -> bool:
        return bool(self.raw.get("default_action_applied", False))

    @property
    def amount_sats(self):
        """The payment's amount (older alerts carry it only among the features)."""
        amount = self.raw.get("amount_sats")
        return self.features.get("amount_sats") if amount is None else amount

    # credit_offer
    score = _get("score")
    band = _get("band")
    offered_amount_xof = _get("offered_amount_xof")
    loan_id = _get("loan_id")

    # liquidity_short
    tontine_id = _get(TONTINE_ID)
    tontine_name = _get("tontine_name")
    round = _get(ROUND)
    shortfall_share = _get("shortfall_share")
    shortfall_sats = _get("shortfall_sats")
