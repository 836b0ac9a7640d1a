"""Writes for fraud: check payments, hold the suspicious ones, raise alerts, audit every decision.

Durability, write by write:
- A hold (`payments.status = held`), its `fraud_suspect` alert, the check's
  audit row and the member's `payment_held` notification (outbox) commit
  together, synchronously, before the answer leaves, whichever way the check
  came (/api/fraud/check with `payment_id`, the payment event, a job): the
  backend acts on `decision`, so a hold it was told about must survive a crash.
- A check of a stored payment also stamps `payments.checked_at` the first time,
  in the same transaction.
- A check that changes nothing (no `payment_id`, or allow) writes only its
  `ai_metrics` row, committed without waiting for the disk: on PostgreSQL
  one INSERT that is its own transaction with `synchronous_commit` off
  (`alerts.services.audit_metrics_write`: one round trip, where BEGIN, SET
  LOCAL, INSERT and COMMIT were four). The row is as atomic as any other, but
  a crash in the following ~0.2 s (3 x wal_writer_delay) may lose it. On
  SQLite, WAL with `synchronous=NORMAL` (settings) gives the same trade.

Idempotency: a payment is locked (`select_for_update`) while it is checked, and
its alert is unique in the database (`ai_alerts_one_fraud_per_payment`). A
second check of a payment that already has an alert replays the recorded
decision; a second check of an allowed payment (`checked_at` set) that still
allows it is a replay too. Either writes only an audit row marked `replay`,
which drift and traffic figures leave out.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import payloads
from alerts.models import AIAlert, AIMetric, AlertType
from alerts.payloads import AlertPayload
from alerts.services import (
    AlertAlreadyResolved,
    alert_create,
    alert_resolve,
    audit_metrics_write,
    metric_record,
    notification_enqueue,
)
from cases.services import case_item_attach
from fraud.detectors import CheckResult, context_read, score_rows
from fraud.features import CONTEXT_KEY, FEATURES
from fraud.member_context import member_context_at
from fraud.selectors import (
    fraud_alert_for_payment,
    member_ids_by_reference,
    payment_features,
    payment_features_at,
    payments_by_id,
)
from sunusav import prometheus, timings
from sunusav.audit_trail import action_record
from sunusav.hashing import check_input_hash
from sunusav.logs import current_request_id
from sunusav.models import AnalystAction, Member, Payment
from sunusav.queues import HIGH, enqueue

METRIC_KEY = "fraud_check"
HOLDABLE = {Payment.Status.PENDING, Payment.Status.SETTLED}
ALERTED_DECISIONS = {"hold", "review"}


class PaymentCheckConflict(Exception):
    """A payment already checked through the API with a different body."""

    def __init__(self, payment_id: str):
        super().__init__(payment_id)
        self.payment_id = payment_id


class InvalidCheckInput(Exception):
    """Input that passed the serializer but not the database (unknown payment ...): {index: {field: [msg]}}."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(errors)
        self.errors = errors


@dataclass
class CheckedItem:
    """One API item after checking: its result and the payment it concerned, if any."""

    result: CheckResult
    payment: Payment | None = None
    replay: bool = False


def transactions_check(*, items: list[dict], members: list | None = None) -> list[CheckResult]:
    """Score many payments' features in one pass (no writes); each result carries the pass's latency.

    `members` (one per item, default each item's `user_id`) places items in a
    challenger's A/B share; with a challenger, `result.extra` holds the arm
    and the shadow answer for the audit row (see `fraud.detectors.score_rows`).
    """
    started = time.perf_counter_ns()
    results = score_rows(items, members=members)
    latency_ms = (time.perf_counter_ns() - started) / 1e6
    for result in results:
        result.latency_ms = latency_ms
    prometheus.count_fraud_decisions(results)
    return results


def transaction_check(*, features: dict, member: str | None = None) -> CheckResult:
    """Score one payment's five features (no writes): the seed's `checkTransaction`."""
    return transactions_check(items=[features], members=None if member is None else [member])[0]


def _metric_meta(
    *, result: CheckResult, features: dict, payment: Payment | None, user_ref: str, token: str, replay: bool
) -> dict:
    meta = {
        "decision": result.decision,
        "is_fraud": result.is_fraud,
        "model_version": result.model_version,
        "fallback": result.fallback,
        "latency_ms": round(result.latency_ms, 4),
        "reasons": [reason["id"] for reason in result.reasons],
        "isolation_score": result.isolation_score,
        "default_action_applied": result.default_action_applied,
        "error": result.error,
        "features": {name: features[name] for name in FEATURES},
        "input_hash": check_input_hash(user_ref, features, str(payment.pk) if payment else None),
        "payment_id": str(payment.pk) if payment else None,
        "user_id": user_ref,
        "token": token,
        "replay": replay,
    }
    if result.extra:  # with a challenger: `arm` and `shadow` (the other model's answer, never acted on)
        meta.update(result.extra)
    return meta


def fraud_check_record(
    *,
    member: Member | None,
    payment: Payment | None,
    result: CheckResult,
    features: dict,
    user_ref: str = "",
    token: str = "",
    replay: bool = False,
) -> AIMetric:
    """Write the `fraud_check` audit row (score, decision, model version, latency)."""
    return metric_record(
        member=member,
        key=METRIC_KEY,
        value=result.fraud_score,
        meta={
            **_metric_meta(
                result=result, features=features, payment=payment, user_ref=user_ref, token=token, replay=replay
            ),
            **_trace_meta(),
        },
    )


def _trace_meta() -> dict:
    # The request (or job) behind the decision, and its stage timings so far (sunusav.timings).
    trace = {"request_id": current_request_id()}
    stages = timings.snapshot()
    if stages is not None:
        trace["stages_us"] = stages
    return trace


def _alert_payload(*, payment: Payment, result: CheckResult, features: dict) -> dict:
    return payloads.fraud_suspect(
        payment_id=payment.pk,
        features={name: features[name] for name in FEATURES},
        fraud_score=result.fraud_score,
        decision=result.decision,
        is_fraud=result.is_fraud,
        reasons=result.reasons,
        model_version=result.model_version,
        fallback=result.fallback,
        default_action_applied=result.default_action_applied,
        isolation_score=result.isolation_score,
        amount_sats=payment.amount_sats,
        request_id=current_request_id(),
    )


def fraud_alert_create(*, member: Member, payment: Payment, result: CheckResult, features: dict) -> AIAlert:
    """Open the payment's `fraud_suspect` alert, or return the one it already has."""
    try:
        with transaction.atomic():  # a savepoint: a lost race must not poison the caller's transaction
            return alert_create(
                member=member,
                alert_type=AlertType.FRAUD_SUSPECT,
                payload=_alert_payload(payment=payment, result=result, features=features),
            )
    except IntegrityError:
        existing = fraud_alert_for_payment(payment_id=payment.pk)
        if existing is None:
            raise
        return existing


# A reason's keys in the order the check answers them. PostgreSQL's JSONB keeps
# keys in its own order, so a replay read back from the alert re-orders them:
# the same decision must give the same bytes, first time or replayed.
_REASON_KEYS = ("id", "kind", "weight", "isolation_score", "fr", "en")


def _in_answer_order(reason: dict) -> dict:
    ordered = {key: reason[key] for key in _REASON_KEYS if key in reason}
    ordered.update((key, value) for key, value in reason.items() if key not in ordered)
    return ordered


def _result_from_alert(alert: AIAlert) -> CheckResult:
    payload = AlertPayload.of(alert)
    return CheckResult(
        fraud_score=payload.fraud_score,
        is_fraud=payload.is_fraud,
        decision=payload.decision,
        reasons=[_in_answer_order(reason) for reason in payload.reasons],
        model_version=payload.model_version,
        fallback=payload.fallback,
        isolation_score=payload.isolation_score,
        default_action_applied=payload.default_action_applied,
    )


_SEVERITY = {"allow": 0, "review": 1, "hold": 2}


def _with_context(row: dict, member_id: uuid.UUID | None, *, at: datetime) -> dict:
    """The check's row with its member's baseline at `at` (an unknown member keeps the population defaults)."""
    if member_id is None:
        return row
    values = member_context_at(member_id=member_id, at=at, amount_sats=float(row["amount_sats"]))
    return {**row, CONTEXT_KEY: values}


def _stored_context(payment: Payment) -> dict:
    """A stored payment's member baseline before it, with its device and place."""
    values = member_context_at(
        member_id=payment.member_id,
        at=payment.created_at,
        amount_sats=float(payment.amount_sats),
        device=payment.device_id,
        location=payment.location,
        exclude=payment.pk,
    )
    return {CONTEXT_KEY: values}


def _list_subjects(payment: Payment) -> dict:
    """What the rules' lists may name about a stored payment (`fraud.rules_engine.LIST_SUBJECTS`)."""
    return {"device_id": payment.device_id, "location": payment.location, "phone_hash": payment.member.phone_hash}


def _payment_decide(
    *,
    features: dict,
    features_at_receipt: dict | None,
    member: str,
    subjects: dict | None = None,
    context: dict | None = None,
) -> tuple[CheckResult, dict]:
    """Score a payment's features (no writes, not counted); with its features at receipt too, the stricter answer.

    Stricter: the graver decision, then the higher score; on a tie, the
    payment's own time. Returns the answer that stands and its features.
    """
    views = (
        [(features, None)]
        if features_at_receipt is None
        else [(features, "created_at"), (features_at_receipt, "received_at")]
    )
    started = time.perf_counter_ns()
    # The rows carry the payment's list subjects (device, place, phone hash) beside its features, and its
    # member's baseline before it when the model reads one.
    rows = [{**f, **(subjects or {}), **(context or {})} for f, _ in views]
    results = score_rows(rows, members=[member] * len(views))
    latency_ms = (time.perf_counter_ns() - started) / 1e6
    (result, (chosen, view)) = max(
        zip(results, views, strict=True), key=lambda rv: (_SEVERITY.get(rv[0].decision, 0), rv[0].fraud_score or 0.0)
    )
    result.latency_ms = latency_ms
    if view is not None:
        result.extra = {**result.extra, "screened_at": view}
    return result, chosen


@transaction.atomic
def payment_check(
    *,
    payment: Payment,
    features: dict,
    user_ref: str = "",
    token: str = "",
    input_hash: str = "",
    features_at_receipt: dict | None = None,
) -> CheckedItem:
    """Check a stored payment once: hold it, alert and tell the member when suspicious; a repeat is a replay.

    `input_hash` (API calls) pins the body of the first check of this payment:
    a later check with another body raises `PaymentCheckConflict` and changes
    nothing. A payment with an alert (review, hold) answers that decision again;
    an allowed payment checked before (`checked_at`) is scored again and, still
    allowed, answers as a replay too (nothing to act on). Only a new model or
    threshold that now finds it suspicious makes a repeat a new decision.
    `features_at_receipt` (payment events with a `created_at`) are the
    payment's features at the time the server received it: the stricter of
    the two answers decides (see `payment_event_process`).
    Every check writes one audit row, marked `replay` for repeats, so the
    backend's retries never count as traffic. A hold, its alert, its audit row
    and the member's `payment_held` notification (outbox) commit together,
    synchronously: the hold must be durable before the caller hears of it.
    """
    locked = Payment.objects.select_for_update().select_related("member").get(pk=payment.pk)
    changed = []
    if input_hash:
        if locked.check_input_hash and locked.check_input_hash != input_hash:
            raise PaymentCheckConflict(str(locked.pk))
        if not locked.check_input_hash:
            locked.check_input_hash = input_hash
            changed.append("check_input_hash")
    timings.mark("features")
    existing = fraud_alert_for_payment(payment_id=locked.pk)
    held_now = False
    alert = None
    if existing is not None:
        result, replay = _result_from_alert(existing), True
    else:
        result, features = _payment_decide(
            features=features,
            features_at_receipt=features_at_receipt,
            member=user_ref or str(locked.member_id),
            subjects=_list_subjects(locked),
            context=_stored_context(locked) if context_read() else None,
        )
        replay = locked.checked_at is not None and result.decision not in ALERTED_DECISIONS
        if not replay:  # a retry is no new traffic
            prometheus.count_fraud_decisions([result])
        if result.decision in ALERTED_DECISIONS:
            alert = fraud_alert_create(member=locked.member, payment=locked, result=result, features=features)
        if result.decision == "hold" and locked.status in HOLDABLE:
            locked.status = Payment.Status.HELD
            changed.append("status")
            held_now = True
    if locked.checked_at is None:
        locked.checked_at = timezone.now()
        changed.append("checked_at")
    if changed:
        locked.save(update_fields=changed)
    if alert is not None:  # the member's open case takes the alert and its hold, in this transaction
        case_item_attach(alert=alert, payment=locked)
    timings.mark("writes")
    fraud_check_record(
        member=locked.member,
        payment=locked,
        result=result,
        features=features,
        user_ref=user_ref or str(locked.member_id),
        token=token,
        replay=replay,
    )
    if held_now:
        _payment_held_notify(payment=locked)
    return CheckedItem(result=result, payment=locked, replay=replay)


def _payment_held_notify(*, payment: Payment) -> None:
    # In the hold's transaction (the outbox row exists exactly when the hold does), once per payment.
    notification_enqueue(
        member=payment.member,
        kind="payment_held",
        dedupe_key=f"payment_held:{payment.pk}",
        context={"amount_sats": payment.amount_sats, "payment_id": str(payment.pk)},
    )
    # A nudge: the every-minute schedule delivers the outbox anyway.
    enqueue("alerts.tasks.notifications_deliver", queue="fraud", priority=HIGH, best_effort=True)


def fraud_checks_run(*, items: list[dict], token: str = "") -> list[CheckedItem]:
    """Check API items (features, `user_id`, optional `payment_id`); return results in order.

    Items naming a stored payment go through `payment_check` (hold + alert);
    the others are scored in one pass and audited in one asynchronous commit.
    Raises `InvalidCheckInput` before writing anything when a payment is
    unknown or belongs to another member than `user_id`, and
    `PaymentCheckConflict` when a payment was checked before with another body.
    """
    timings.mark("validation")
    payment_ids = {item["payment_id"] for item in items if item.get("payment_id")}
    payments = payments_by_id(payment_ids=payment_ids) if payment_ids else {}
    errors: dict[int, dict[str, list[str]]] = {}
    for index, item in enumerate(items):
        payment_id = item.get("payment_id")
        if not payment_id:
            continue
        payment = payments.get(payment_id)
        if payment is None:
            errors[index] = {"payment_id": ["Unknown payment."]}
        elif _normalise_ref(item["user_id"]) != str(payment.member_id):
            errors[index] = {"user_id": ["Does not match the payment's member."]}
        elif payment.check_input_hash and payment.check_input_hash != check_input_hash(
            item["user_id"], item, str(payment_id)
        ):
            # Refused before anything is written; payment_check re-checks under the row lock.
            raise PaymentCheckConflict(str(payment_id))
    if errors:
        raise InvalidCheckInput(errors)

    checked: list[CheckedItem | None] = [None] * len(items)
    plain = [i for i, item in enumerate(items) if not item.get("payment_id")]
    if plain:
        members = member_ids_by_reference(references={items[i]["user_id"] for i in plain})
        rows = [items[i] for i in plain]
        if context_read():  # the member's own baseline, for a model that reads it (fraud.member_context)
            now = timezone.now()
            rows = [_with_context(row, members.get(row["user_id"]), at=now) for row in rows]
        results = transactions_check(items=rows)
        timings.mark("features")
        trace = _trace_meta()
        rows = []
        for i, result in zip(plain, results, strict=True):
            item = items[i]
            checked[i] = CheckedItem(result=result)
            meta = _metric_meta(
                result=result, features=item, payment=None, user_ref=item["user_id"], token=token, replay=False
            )
            rows.append((members.get(item["user_id"]), METRIC_KEY, result.fraud_score, {**meta, **trace}))
        audit_metrics_write(rows)
        timings.mark("writes")
    for index, item in enumerate(items):
        if item.get("payment_id"):
            checked[index] = payment_check(
                payment=payments[item["payment_id"]],
                features=item,
                user_ref=item["user_id"],
                token=token,
                input_hash=check_input_hash(item["user_id"], item, str(item["payment_id"])),
            )
    return checked


def _normalise_ref(reference: str) -> str:
    try:
        return str(uuid.UUID(reference))
    except (ValueError, AttributeError, TypeError):
        return reference


def payment_check_stored(*, payment: Payment, token: str = "", received_at: datetime | None = None) -> CheckedItem:
    """Check a stored payment with features derived from its member's history (events, tasks, commands).

    `received_at`: also screen it as if it had happened then (the server's
    time of a payment event); the stricter answer stands.
    """
    (row,) = payment_features(payments=[payment])
    features = dict(zip(FEATURES, (float(v) for v in row), strict=True))
    at_receipt = None
    if received_at is not None:
        values = payment_features_at(payment=payment, at=received_at)
        at_receipt = dict(zip(FEATURES, (float(v) for v in values), strict=True))
    return payment_check(
        payment=payment,
        features=features,
        user_ref=str(payment.member_id),
        token=token,
        features_at_receipt=at_receipt,
    )


# --- Analysts' review of held payments -----------------------------------------------------


class PaymentNotHeld(Exception):
    """The payment is not (or no longer) held: someone else already acted on it.

    Carries the payment's status and, when an analyst reviewed it, who and when.
    """

    def __init__(self, message: str = "", *, status: str = "", reviewed_by: str = "", reviewed_at=None):
        super().__init__(message)
        self.status = status
        self.reviewed_by = reviewed_by
        self.reviewed_at = reviewed_at


REVIEW_KEY = "payment_review"
REVIEW_OUTCOMES = {"release": "false_positive", "reject": "confirmed_fraud"}


@transaction.atomic
def payment_review(
    *, payment_id: uuid.UUID, action: str, actor, reason: str, expired: bool = False, alert_note: str | None = None
) -> Payment:
    """Release or reject a held payment, resolve its alert, audit it, and tell the member of the outcome.

    `actor` is the Django user who acted. The payment row is locked and must
    still be `held`: a second analyst acting on the same payment gets
    `PaymentNotHeld` (naming who reviewed it), never a double action. The
    payment's open fraud alert resolves with the outcome the review implies
    (release: `false_positive`, reject: `confirmed_fraud`), which the next
    fraud training reads as the payment's label.

    `alert_note` replaces the alert's "release: reason" note when the decision came
    from the alert or its case (`fraud_alert_decide`): the analyst's words, as written.

    `expired=True` is the system (actor None) applying HOLD_EXPIRY_DEFAULT to a
    hold whose invoice expired unreviewed (`fraud.holds`): the same effects,
    audited as action "expire" with the default applied in `after`; the
    alert's resolution note is "expired".
    """
    if action not in REVIEW_OUTCOMES:
        raise ValueError(f"action must be release or reject, not {action!r}")
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a reason is required")
    locked = Payment.objects.select_for_update().select_related("member").get(pk=payment_id)
    if locked.status != Payment.Status.HELD:
        last = (
            AnalystAction.objects.filter(
                target_type="payment", target_id=str(locked.pk), action__in=list(REVIEW_OUTCOMES)
            )
            .select_related("actor")
            .order_by("-created_at")
            .first()
        )
        raise PaymentNotHeld(
            f"payment {locked.pk} is {locked.status}, not held",
            status=locked.status,
            reviewed_by=last.actor.get_username() if last and last.actor else "",
            reviewed_at=last.created_at if last else None,
        )
    before = locked.status
    locked.status = Payment.Status.RELEASED if action == "release" else Payment.Status.REJECTED
    locked.save(update_fields=["status"])
    resolved = []
    alert = fraud_alert_for_payment(payment_id=locked.pk)
    if alert is not None and not alert.resolved:
        try:
            note = alert_note or ("expired" if expired else f"{action}: {reason}")
            alert_resolve(alert=alert, actor=actor, outcome=REVIEW_OUTCOMES[action], note=note)
            resolved.append(str(alert.pk))
        except AlertAlreadyResolved:
            pass  # resolved on the alert queue meanwhile: its outcome stands
    after = {"status": locked.status, "alerts_resolved": resolved}
    if expired:
        expires_at = locked.expires_at.isoformat() if locked.expires_at else None
        after.update({"default": action, "by": "expiry", "expires_at": expires_at})
    action_record(
        actor=actor,
        action=AnalystAction.Action.EXPIRE if expired else action,
        target=locked,
        before={"status": before},
        after=after,
        note=reason,
    )
    metric_record(
        member=locked.member,
        key=REVIEW_KEY,
        value=None,
        meta={
            "payment_id": str(locked.pk),
            "action": action,
            "actor": f"user:{actor.pk}" if actor is not None and actor.is_authenticated else "system",
            "reason": reason[:500],
            "before": before,
            "after": locked.status,
            "expired": expired,
        },
    )
    # The member hears of the outcome either way; a rejection in neutral words only (no tipping-off: docs/CENTIF.md).
    kind = "payment_released" if action == "release" else "payment_rejected"
    notification_enqueue(
        member=locked.member,
        kind=kind,
        dedupe_key=f"{kind}:{locked.pk}",
        context={"amount_sats": locked.amount_sats, "payment_id": str(locked.pk)},
    )
    return locked


ACTION_BY_OUTCOME = {outcome: action for action, outcome in REVIEW_OUTCOMES.items()}


def fraud_alert_decide(*, alert: AIAlert, actor, outcome: str, note: str) -> AIAlert:
    """Resolve a fraud alert and act on its hold: confirmed fraud rejects it, a false alert releases it.

    The decider of fraud alerts (`alerts.services.alert_decide`, registered in
    fraud.apps): from the alert queue or a case's decision, the alert and its
    payment never disagree. A payment no longer held just has its alert resolved.
    """
    payment_id = AlertPayload.of(alert).payment_id
    fresh = AIAlert.objects.get(pk=alert.pk)
    held = Payment.objects.filter(pk=payment_id, status=Payment.Status.HELD).exists() if payment_id else False
    if held and not fresh.resolved and outcome in ACTION_BY_OUTCOME:
        try:
            payment_review(
                payment_id=payment_id, action=ACTION_BY_OUTCOME[outcome], actor=actor, reason=note, alert_note=note
            )
        except PaymentNotHeld:
            pass  # reviewed a moment earlier: resolve the alert alone below (or learn it is resolved)
        else:
            resolved = AIAlert.objects.get(pk=alert.pk)
            if resolved.resolved:
                return resolved
    return alert_resolve(alert=fresh, actor=actor, outcome=outcome, note=note)


# --- Payment events from the main backend: store, then screen -------------------------------


class PaymentConflict(Exception):
    """A payment id already stored with a different body."""


def payment_record(
    *,
    payment_id,
    member: Member,
    kind: str,
    amount_sats: int,
    device_id: str = "",
    location: str = "",
    created_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> tuple[Payment, bool]:
    """Store a payment the main backend reports, once per id; return it and whether it is new.

    The same id with the same body is the same payment (a retry); the same id
    with another body is a conflict, never a silent overwrite. `created_at`,
    when given, is part of the body (a retry that omits it is not compared on
    it). `expires_at` is the Lightning invoice's expiry (None otherwise): when
    it passes on a hold nobody reviewed, `fraud.holds.holds_expire` applies
    HOLD_EXPIRY_DEFAULT.
    """
    fields = {
        "member_id": member.pk,
        "kind": kind,
        "amount_sats": amount_sats,
        "device_id": device_id,
        "location": location,
        "expires_at": expires_at,
    }
    payment, created = Payment.objects.get_or_create(
        id=payment_id, defaults={**fields, "created_at": created_at or timezone.now()}
    )
    if not created and any(getattr(payment, name) != value for name, value in fields.items()):
        raise PaymentConflict(str(payment_id))
    if not created and created_at is not None and payment.created_at != created_at:
        raise PaymentConflict(str(payment_id))  # a time given is part of the body (omitted: not compared)
    return payment, created


@transaction.atomic
def payment_screen(*, payment: Payment, token: str = "", received_at: datetime | None = None) -> CheckedItem:
    """Check a stored payment from its history (`payment_check`: a hold tells the member in the same commit).

    Delivery of the notification can wait: it is nudged after the commit.
    Safe to repeat: a second check replays the first decision.
    """
    return payment_check_stored(payment=payment, token=token, received_at=received_at)


@transaction.atomic
def payment_event_process(*, data: dict, member: Member, token: str = ""):
    """Store a payment the main backend reports and screen it at once (one transaction).

    The event's `created_at` is the caller's word. The serializer bounds it
    (PAYMENT_MAX_AGE_HOURS back, PAYMENT_CLOCK_SKEW_SECONDS ahead), and a
    new payment that carries one is screened twice: at that time, against the
    history around it (a late event still shows the burst it was part of), and
    at the time the server received it, against the history up to now (a
    created_at moved away from the member's recent activity cannot hide it).
    The stricter answer stands, so no created_at lowers the decision below
    what the server's own clock shows. Left open: a burst whose events are
    each dated differently within the window is spread out in the stored
    history; keep PAYMENT_MAX_AGE_HOURS as short as the backend's replays allow.
    """
    received_at = timezone.now()
    payment, created = payment_record(
        payment_id=data["payment_id"],
        member=member,
        kind=data["kind"],
        amount_sats=data["amount_sats"],
        device_id=data.get("device_id", ""),
        location=data.get("location", ""),
        created_at=data.get("created_at"),
        expires_at=data.get("expires_at"),
    )
    dated = created and data.get("created_at") is not None
    return payment_screen(payment=payment, token=token, received_at=received_at if dated else None)
