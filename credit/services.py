"""Credit writes (the seed's CreditAIService): predictions with their audit, scores, offers, batch runs."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from alerts import payloads
from alerts.models import AIAlert, AIMetric, AlertType, Notification
from alerts.payloads import AlertPayload
from alerts.services import alert_create, audit_metrics_write, metric_record, metrics_insert, notification_enqueue
from credit import selectors
from credit.features import FEATURES, features_for_members
from credit.scoring import DECISION_THRESHOLD, MODEL_NAME, RULES_VERSION, Prediction, bands_of, serve_matrix
from sunusav import prometheus, timings
from sunusav.audit_trail import action_record
from sunusav.hashing import input_hash
from sunusav.logs import current_request_id
from sunusav.ml.registry import registry
from sunusav.models import AnalystAction, Loan, Member
from sunusav.queues import HIGH, NORMAL, enqueue

PREDICTION_KEY = "credit_prediction"
SCORE_KEY = "credit_score"


def _matrix(rows: list[dict]) -> np.ndarray:
    return np.array([[row[name] for name in FEATURES] for row in rows], dtype=np.float64)


def _member_ids_known(user_ids: list[str]) -> dict[str, uuid.UUID]:
    parsed = {}
    for user_id in user_ids:
        try:
            parsed[user_id] = uuid.UUID(user_id)
        except ValueError:
            continue
    if not parsed:
        return {}
    known = set(Member.objects.filter(id__in=set(parsed.values())).values_list("id", flat=True))
    return {k: v for k, v in parsed.items() if v in known}


# --- Predictions ---------------------------------------------------------------------------


def _model_stage(fallback: bool) -> str:
    # The rule scorecard answering in the model's place is the `rules` stage.
    return "rules" if fallback else "model"


def credit_predict(*, features: dict[str, float], member: str | None = None) -> Prediction:
    """Score one feature row, with reasons (no write); `member` places it in a challenger's A/B share."""
    X = _matrix([features])
    timings.mark("features")
    prediction = serve_matrix(X, members=None if member is None else [member], reasons=True).prediction(0)
    timings.mark(_model_stage(prediction.fallback))
    return prediction


def credit_predict_many(*, rows: list[dict[str, float]], members: list[str] | None = None) -> list[Prediction]:
    """Score many rows in one call; reasons only for declines (they cost about 1 ms a row)."""
    X = _matrix(rows)
    timings.mark("features")
    batch = serve_matrix(X, members=members, reasons=True, reasons_below=DECISION_THRESHOLD)
    timings.mark(_model_stage(batch.fallback))
    return [batch.prediction(i) for i in range(len(rows))]


def prediction_audited(*, user_id: str, features: dict[str, float], token: str) -> Prediction:
    """Score one row for the API and write its `ai_metrics` audit row (with request id and stage timings)."""
    timings.mark("validation")
    prediction = credit_predict(features=features, member=user_id)
    member_id = _member_ids_known([user_id]).get(user_id)
    timings.mark("features")
    audit_metrics_write(
        [(member_id, PREDICTION_KEY, prediction.score, _audit_meta(user_id, features, prediction, token))]
    )
    timings.mark("writes")
    prometheus.count_credit_predictions([prediction.band], prediction.fallback)
    return prediction


def predictions_audited(*, items: list[dict], token: str) -> list[Prediction]:
    """Score a batch for the API (results in input order) and write one audit row per item."""
    timings.mark("validation")
    rows = [{name: item[name] for name in FEATURES} for item in items]
    predictions = credit_predict_many(rows=rows, members=[item["user_id"] for item in items])
    known = _member_ids_known([item["user_id"] for item in items])
    timings.mark("features")
    audit_metrics_write(
        [
            (known.get(item["user_id"]), PREDICTION_KEY, p.score, _audit_meta(item["user_id"], row, p, token, True))
            for item, row, p in zip(items, rows, predictions, strict=True)
        ]
    )
    timings.mark("writes")
    if predictions:
        prometheus.count_credit_predictions([p.band for p in predictions], predictions[0].fallback)
    return predictions


def _audit_meta(user_id: str, features: dict, p: Prediction, token: str, batch: bool = False) -> dict:
    # request_id links the row to the API call's log line; stages_us are the
    # stage timings up to the audit write (see sunusav.timings); with a
    # challenger, `arm` and `shadow` (the other model's answer, never served).
    meta = {
        "user_id": user_id,
        "features": features,
        "input_hash": input_hash({"user_id": user_id, **features}),
        "model_version": p.model_version,
        "fallback": p.fallback,
        "confidence": p.confidence,
        "band": p.band,
        "reasons": [r["code"] for r in p.reasons],
        "source": "api.batch-predict" if batch else "api.predict",
        "token": token,
        "request_id": current_request_id(),
        "stages_us": timings.snapshot(),
    }
    if p.arm is not None:
        meta["arm"], meta["shadow"] = p.arm, p.shadow
    return meta


# --- Scores and offers ---------------------------------------------------------------------


@transaction.atomic
def score_save(
    *, member: Member, score: float, confidence: float, model_version: str, meta: dict | None = None
) -> AIMetric:
    """Store a member's score (NUMERIC(4,3)) and write its `credit_score` metric."""
    score = round(float(score), 3)
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score {score} outside [0, 1]")
    now = timezone.now()
    Member.objects.filter(pk=member.pk).update(credit_score=f"{score:.3f}", credit_score_updated_at=now)
    member.refresh_from_db(fields=["credit_score", "credit_score_updated_at"])
    return metric_record(
        member=member,
        key=SCORE_KEY,
        value=score,
        meta={"model_version": model_version, "confidence": round(float(confidence), 3), **(meta or {})},
    )


def offer_amount_xof(*, band: str, tontine_contributions_sats: float) -> int:
    """Return the offer a band and a year of contributions allow (0: no offer)."""
    share = settings.CREDIT_OFFER_SHARE_BY_BAND.get(band, 0.0)
    if share <= 0:
        return 0
    raw = tontine_contributions_sats * settings.CREDIT_XOF_PER_SAT * share
    amount = min(max(raw, settings.CREDIT_OFFER_MIN_XOF), settings.CREDIT_OFFER_MAX_XOF)
    step = settings.CREDIT_OFFER_STEP_XOF
    return int(amount // step * step)


@transaction.atomic
def credit_alert_create(
    *,
    member: Member,
    score: float,
    loan_amount: int | None = None,
    model_version: str | None = None,
    tontine_contributions_sats: float | None = None,
) -> AIAlert | None:
    """Open a `credit_offer` alert for the member, or return the one already open.

    The amount is the smaller of `loan_amount` (when asked) and what the band
    and the member's contribution history allow; None when the band gets no
    offer. The partial unique index `ai_alerts_one_open_offer` makes a
    concurrent second offer fail, and that failure returns the winner's row.
    """
    existing = selectors.open_credit_offer(member=member)
    if existing is not None:
        return existing
    score = round(float(score), 3)
    band = bands_of(np.array([score]))[0]
    if tontine_contributions_sats is None:  # callers that scored from features pass them along
        tontine_contributions_sats = float(
            features_for_members([member.pk])[0][FEATURES.index("tontine_contributions")]
        )
    limit = offer_amount_xof(band=band, tontine_contributions_sats=tontine_contributions_sats)
    if limit <= 0:
        return None
    offered = limit if loan_amount is None else min(int(loan_amount), limit)
    offered = offered // settings.CREDIT_OFFER_STEP_XOF * settings.CREDIT_OFFER_STEP_XOF
    if offered <= 0:
        return None
    if model_version is None:
        loaded = registry.get_active(MODEL_NAME)
        model_version = loaded.version if loaded is not None else RULES_VERSION
    payload = payloads.credit_offer(
        score=score,
        band=band,
        offered_amount_xof=offered,
        requested_amount_xof=loan_amount,
        limit_xof=limit,
        model_version=model_version,
        request_id=current_request_id(),
    )
    try:
        with transaction.atomic():
            alert = alert_create(member=member, alert_type=AlertType.CREDIT_OFFER, payload=payload)
    except IntegrityError:
        return selectors.open_credit_offer(member=member)
    notification_enqueue(
        member=member,
        kind=Notification.Kind.LOAN_OFFER,
        dedupe_key=f"loan_offer:{alert.id}",
        context={"amount_xof": f"{offered:,}".replace(",", " ")},
    )
    return alert


# --- Batch scoring runs --------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRun:
    """One `score_users` run: members not scored since `cutoff` are its work."""

    run_id: str
    cutoff: datetime
    resumed: bool


def score_run_start(*, selection: str, cutoff: datetime, restart: bool = False) -> ScoreRun:
    """Resume the unfinished run of this selection (same cutoff) or record a new one."""
    existing = selectors.score_run_unfinished(selection=selection)
    if existing is not None and restart:
        existing.meta = {**existing.meta, "status": "abandoned"}
        existing.save(update_fields=["meta"])
        existing = None
    if existing is not None:
        return ScoreRun(run_id=str(existing.id), cutoff=datetime.fromisoformat(existing.meta["cutoff"]), resumed=True)
    row = metric_record(
        member=None,
        key=selectors.SCORE_RUN_KEY,
        value=None,
        meta={"status": "running", "selection": selection, "cutoff": cutoff.isoformat()},
    )
    return ScoreRun(run_id=str(row.id), cutoff=cutoff, resumed=False)


def score_run_finish(*, run: ScoreRun, scored: int) -> None:
    """Mark a run finished with how many members it scored."""
    row = AIMetric.objects.get(id=run.run_id)
    row.meta = {**row.meta, "status": "finished", "finished_at": timezone.now().isoformat()}
    row.metric_value = (row.metric_value or 0) + scored
    row.save(update_fields=["meta", "metric_value"])


def selection_key(*, ids: list[str] | None = None, stale_days: int | None = None) -> str:
    """Name a selection so an interrupted run of the same selection is resumed."""
    if ids is not None:
        return "ids:" + hashlib.sha256(",".join(sorted(ids)).encode()).hexdigest()[:16]
    if stale_days is not None:
        return f"stale:{stale_days}"
    return "all"


def members_score(*, member_ids: list[uuid.UUID], cutoff: datetime, run_id: str = "") -> int:
    """Score the given members not scored since `cutoff`; return how many were scored.

    Safe to run twice (a task may be delivered twice): members scored after
    `cutoff` are skipped. One feature query set, one predict, one bulk write.
    """
    todo = selectors.members_to_score(cutoff=cutoff, ids=list(member_ids), limit=len(member_ids))
    return _members_score_rows(todo, run_id=run_id)


def members_score_chunk(*, rows: list[tuple[uuid.UUID, object]], run_id: str = "") -> int:
    """Score rows of (member id, previous score) already selected by `selectors.members_to_score`."""
    return _members_score_rows(rows, run_id=run_id)


def _members_score_rows(rows: list[tuple[uuid.UUID, object]], *, run_id: str) -> int:
    if not rows:
        return 0
    ids = [member_id for member_id, _ in rows]
    previous = np.array([np.nan if s is None else float(s) for _, s in rows])
    X = features_for_members(ids)
    # Reasons only where a decision changes for the worse: a member who was
    # offer-grade and is now below the threshold gets told why.
    batch = serve_matrix(X, members=ids, reasons=previous >= DECISION_THRESHOLD, reasons_below=DECISION_THRESHOLD)
    now = timezone.now()
    with transaction.atomic():
        _scores_write(ids, batch.scores, now)
        _score_metrics_write(ids, batch, now, run_id)
    return len(ids)


def _scores_write(ids: list[uuid.UUID], scores: np.ndarray, now: datetime) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE users SET credit_score = v.score, credit_score_updated_at = %s "
                "FROM unnest(%s::uuid[], %s::numeric[]) AS v(id, score) WHERE users.id = v.id",
                [now, ids, [f"{s:.3f}" for s in scores]],
            )
        else:
            stamp = connection.ops.adapt_datetimefield_value(now)
            cursor.executemany(
                "UPDATE users SET credit_score = %s, credit_score_updated_at = %s WHERE id = %s",
                [(f"{s:.3f}", stamp, m.hex) for m, s in zip(ids, scores, strict=True)],
            )


def _score_metrics_write(ids: list[uuid.UUID], batch, now: datetime, run_id: str) -> None:
    base = {"model_version": batch.model_version, "fallback": batch.fallback, "source": "score_users", "run_id": run_id}
    rows = []
    for i, member_id in enumerate(ids):
        meta = {**base, "confidence": float(batch.confidences[i]), "band": batch.bands[i]}
        if batch.versions is not None:  # champion and challenger (A/B) served this batch
            meta["model_version"], meta["fallback"] = batch.versions[i], batch.fallbacks[i]
        if batch.reasons[i]:
            meta["reasons"] = [r["code"] for r in batch.reasons[i]]
        if batch.arms is not None:
            meta["arm"], meta["shadow"] = batch.arms[i], batch.shadow[i]
        rows.append((member_id, SCORE_KEY, float(batch.scores[i]), meta))
    metrics_insert(rows, now=now)


def score_run_enqueue(*, run: ScoreRun, ids: list[uuid.UUID] | None = None, chunk: int) -> int:
    """Split a run into credit-queue jobs of `chunk` members (pushed once this commits); return how many members."""
    count, after = 0, None
    with transaction.atomic():
        while rows := selectors.members_to_score(cutoff=run.cutoff, ids=ids, after=after, limit=chunk):
            enqueue(
                "credit.tasks.credit_score_members",
                [str(m) for m, _ in rows],
                run.cutoff.isoformat(),
                run.run_id,
                queue="credit",
                job_key=run.run_id,
            )
            count += len(rows)
            after = rows[-1][0]
    return count


def stale_members_enqueue(*, stale_days: int, chunk: int) -> int:
    """Start a fresh run over members not scored for `stale_days` and enqueue it (the nightly job)."""
    cutoff = timezone.now() - timedelta(days=stale_days)
    # A new run each night: resuming last night's would keep its older cutoff.
    run = score_run_start(selection=selection_key(stale_days=stale_days), cutoff=cutoff, restart=True)
    return score_run_enqueue(run=run, chunk=chunk)


# --- Credit checks on the queue (the seed's enqueue functions in credit.tasks call these) --------

BATCH_CHUNK = 25


def credit_check_enqueue(*, member_id, priority: str = NORMAL, run_id: str | None = None) -> str:
    """Enqueue a credit check of one member once this transaction commits; return its run id."""
    run_id = run_id or uuid.uuid4().hex
    enqueue("credit.tasks.credit_check", str(member_id), run_id, queue="credit", priority=priority, job_key=run_id)
    return run_id


@transaction.atomic
def credit_checks_enqueue(*, member_ids, priority: str = NORMAL, chunk: int = BATCH_CHUNK) -> str:
    """Enqueue credit checks of many members under one run id, in jobs of `chunk`; return the run id.

    A job per member would spend more time in the queue's bookkeeping than in scoring.
    One transaction: the jobs' ledger records commit together, and the pushes follow.
    """
    run_id = uuid.uuid4().hex
    ids = [str(m) for m in member_ids]
    for start in range(0, len(ids), chunk):
        enqueue(
            "credit.tasks.credit_check_batch",
            ids[start : start + chunk],
            run_id,
            queue="credit",
            priority=priority,
            job_key=run_id,
        )
    return run_id


# --- Worker jobs ---------------------------------------------------------------------------


def member_credit_check(*, member_id: uuid.UUID, run_id: str) -> str:
    """Score one member from the database, save the score, and reward a high score (see `members_credit_check`)."""
    return members_credit_check(member_ids=[member_id], run_id=run_id).get(member_id, "gone")


def members_credit_check(*, member_ids: list[uuid.UUID], run_id: str) -> dict[uuid.UUID, str]:
    """Score members from the database, save their scores, and reward high scores.

    The workers' job (django-q2 delivers at least once). Features and scores
    come for the whole list in a few queries and one predict; then each member
    is written in a transaction of its own, under a lock on the member row,
    where a `credit_score` metric of this `run_id` marks the member done, so a
    redelivered or concurrent job changes nothing. A score good enough for an
    offer opens one `credit_offer` alert (at most one open per member),
    pre-approves the microloan it offers (the reward: a `loans` row in status
    `offered`) and queues the member's notification, in that same transaction.
    Returns each member's outcome: `scored`, `already-done` or `gone`.
    """
    done = set(
        AIMetric.objects.filter(user_id__in=member_ids, metric_key=SCORE_KEY, meta__run_id=run_id).values_list(
            "user_id", flat=True
        )
    )
    outcomes = {m: "already-done" for m in member_ids if m in done}
    todo = [m for m in member_ids if m not in done]
    if not todo:
        return outcomes
    # Reasons only for declines: they cost about 1 ms a row.
    X = features_for_members(todo)
    batch = serve_matrix(X, members=todo, reasons=True, reasons_below=DECISION_THRESHOLD)
    contributed = X[:, FEATURES.index("tontine_contributions")]
    for i, member_id in enumerate(todo):
        outcomes[member_id] = _credit_check_apply(
            member_id=member_id, prediction=batch.prediction(i), run_id=run_id, contributed_sats=float(contributed[i])
        )
    return outcomes


@transaction.atomic
def _credit_check_apply(*, member_id: uuid.UUID, prediction: Prediction, run_id: str, contributed_sats: float) -> str:
    member = Member.objects.select_for_update().filter(pk=member_id).first()
    if member is None:
        return "gone"
    if AIMetric.objects.filter(user=member, metric_key=SCORE_KEY, meta__run_id=run_id).exists():
        return "already-done"
    previous = None if member.credit_score is None else float(member.credit_score)
    score_save(
        member=member,
        score=prediction.score,
        confidence=prediction.confidence,
        model_version=prediction.model_version,
        meta={
            "run_id": run_id,
            "band": prediction.band,
            "fallback": prediction.fallback,
            "reasons": [r["code"] for r in prediction.reasons],
            "source": "credit_check",
            "request_id": current_request_id(),  # the request that enqueued the job
            **prediction.audit_extra(),  # with a challenger: arm and shadow answer (never acted on)
        },
    )
    if previous is None or bands_of(np.array([previous]))[0] != prediction.band:
        notification_enqueue(
            member=member,
            kind=Notification.Kind.SCORE_CHANGED,
            dedupe_key=f"score_changed:{member.pk}:{run_id}",
            context={"band": prediction.band, "score": f"{prediction.score:.3f}"},
        )
    if prediction.score >= DECISION_THRESHOLD:
        alert = credit_alert_create(
            member=member,
            score=prediction.score,
            model_version=prediction.model_version,
            tontine_contributions_sats=contributed_sats,
        )
        if alert is not None:
            loan_preapprove(alert=alert)
    return "scored"


def loan_preapprove(*, alert: AIAlert) -> Loan:
    """Create the pre-approved microloan an offer alert proposes, once per alert."""
    alert = AIAlert.objects.select_for_update().get(pk=alert.pk)
    loan_id = AlertPayload.of(alert).loan_id
    if loan_id:
        return Loan.objects.get(pk=loan_id)
    loan = Loan.objects.create(
        member_id=alert.user_id,
        offered_amount_xof=AlertPayload.of(alert).offered_amount_xof,
        status=Loan.Status.OFFERED,
    )
    alert.payload = payloads.with_loan(alert.payload, loan_id=loan.pk)
    alert.save(update_fields=["payload"])
    return loan


# --- Analysts' actions ---------------------------------------------------------------------


@transaction.atomic
def member_rescore(*, member: Member, actor) -> str:
    """Enqueue a high-priority credit check of the member and audit who asked; return the run id.

    The job leaves once this transaction commits (`sunusav.queues.enqueue`).
    """
    run_id = credit_check_enqueue(member_id=member.pk, priority=HIGH)
    action_record(
        actor=actor,
        action=AnalystAction.Action.RESCORE,
        target=member,
        before={
            "credit_score": None if member.credit_score is None else str(member.credit_score),
            "credit_score_updated_at": member.credit_score_updated_at.isoformat()
            if member.credit_score_updated_at
            else None,
        },
        after={"queued": True, "queue": "credit", "priority": HIGH, "run_id": run_id},
    )
    return run_id


@transaction.atomic
def tontine_members_rescore(*, tontine) -> int:
    """Enqueue one normal-priority credit check per member of a tontine; return how many.

    One transaction: the jobs' ledger records commit together, and the pushes follow.
    """
    member_ids = list(tontine.memberships.values_list("member_id", flat=True))
    run_id = uuid.uuid4().hex
    for member_id in member_ids:
        credit_check_enqueue(member_id=member_id, priority=NORMAL, run_id=run_id)
    return len(member_ids)
