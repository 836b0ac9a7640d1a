"""Backtest of a ruleset version over stored payments (issue 15), as a django-q2 job.

`backtest_enqueue` marks the version's report as running and enqueues
`ruleset_backtest_job` (on the `credit` queue, the long jobs' one: 600 s
timeout, as retraining). The job reads the payments of the last 30 or 90
days, and the `HISTORY_WINDOW` before them, in one ordered pass
(`fraud.selectors.payment_history_blocks`: numpy columns, each row read
once), in chunks of `CHUNK` payments (`_chunks` -> `BacktestChunk`: the
chunk's payments, their history rows and their feature matrix). A chunk's
features are those `fraud.selectors.payment_features` derives for the same
payments (history from `HISTORY_WINDOW` before the chunk's first payment);
the served model scores the whole chunk matrix at once, the version and the
published one run through the vectorised form of their rules
(`fraud.detectors.combine_served`: with the served model's supervised layer
when it has one), and numpy counts the report. The
progress (percent of chunks done) is kept in the report as it goes.
A million payments take ~18 s on 2 cores (benchmarks/bench_backtest.py).

The report, kept on the version (`RuleSet.backtest`, shown on its page):
per rule and overall, hits, holds and reviews; precision and recall of the
flagged payments (hold or review) against analysts' verdicts
(`fraud.selectors.analyst_verdicts`: confirmed_fraud / false_positive);
payments gained and lost against the published version, with examples;
projected alerts per day against `ANALYST_DAILY_CAPACITY`, and the flagged
payments of each day of the window (`flagged_per_day`, local days); payments
and flagged ones by member segment (region).
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from fraud.detectors import MODEL_NAME, combine_served, ruleset_decisions
from fraud.features import HISTORY_WINDOW, HistoryCodes, HistoryColumns
from fraud.member_context import CONTEXT_DAYS, context_from_columns, stored_member_columns
from fraud.models_lists import RuleList
from fraud.models_rules import RuleSet
from fraud.rules_engine import compile_ruleset
from fraud.ruleset_selectors import ruleset_published
from fraud.ruleset_services import ruleset_backtest_store
from fraud.ruleset_serving import list_values_active
from fraud.selectors import analyst_verdicts, epoch_micros, payment_history_blocks
from sunusav.ml.registry import registry
from sunusav.models import Member, Payment
from sunusav.queues import enqueue

logger = logging.getLogger(__name__)

WINDOWS = (30, 90)
CHUNK = 20_000
EXAMPLES = 10
FLAGGED = ("hold", "review")


@transaction.atomic
def backtest_enqueue(*, ruleset: RuleSet, window_days: int, actor) -> None:
    """Mark the version's backtest as running and enqueue the job (after commit)."""
    if window_days not in WINDOWS:
        raise ValueError(f"window_days must be one of {WINDOWS}")
    RuleSet.objects.filter(pk=ruleset.pk).update(
        backtest={"state": "running", "progress": 0, "window_days": window_days}
    )
    enqueue(
        "fraud.backtest.ruleset_backtest_job",
        ruleset.pk,
        window_days,
        actor.pk if actor is not None else None,
        queue="credit",
        job_key=f"ruleset-backtest-{ruleset.pk}",
    )


def ruleset_backtest_job(ruleset_id: int, window_days: int, actor_id: int | None = None) -> str:
    """The job: run the backtest and keep its report on the version; a failure is reported, not retried."""
    ruleset = RuleSet.objects.filter(pk=ruleset_id).first()
    if ruleset is None:
        return "gone"
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        report = ruleset_backtest_run(ruleset=ruleset, window_days=window_days)
    except Exception as exc:
        logger.exception("backtest of ruleset v%s failed", ruleset.number)
        report = {"state": "failed", "window_days": window_days, "error": f"{type(exc).__name__}: {exc}"}
    ruleset_backtest_store(actor=actor, ruleset=ruleset, report=report)
    return report["state"]


def _compiled(row: RuleSet):
    compiled = compile_ruleset(
        [r.spec() for r in row.rules.all()],
        version=row.label,
        lists=dict(RuleList.objects.values_list("name", "subject")),
    )
    if compiled.list_refs:
        compiled.list_values = list_values_active({name for _subject, name in compiled.list_refs})
    return compiled


def _progress(ruleset: RuleSet, window_days: int, done: int, total: int) -> None:
    pct = 100 if total == 0 else min(100, int(100 * done / total))
    RuleSet.objects.filter(pk=ruleset.pk).update(
        backtest={"state": "running", "progress": pct, "window_days": window_days}
    )


def _ratio(a: int, b: int) -> float | None:
    return None if b == 0 else round(a / b, 4)


@dataclass
class BacktestChunk:
    """One chunk of the window: its payments, their history rows and their feature matrix.

    `history` holds every stored payment from `HISTORY_WINDOW` before the
    chunk's first payment (inclusive) to at least its last one, in
    (created_at, id) order; rows after the chunk may be there too (a
    payment's features only read its member's rows at or before it).
    `rows` are the chunk's payments' positions in `history`, `matrix` their
    five features (len(rows), 5), in the same order.
    """

    history: HistoryColumns
    rows: slice
    matrix: np.ndarray
    codes: HistoryCodes

    @property
    def payments(self) -> HistoryColumns:
        return self.history[self.rows]


def _chunks(*, since, now, codes: HistoryCodes):
    """Yield the window's payments as `BacktestChunk`s of `CHUNK` payments, each row read once from the database."""
    blocks = payment_history_blocks(since=since - HISTORY_WINDOW, until=now, block=CHUNK, codes=codes)
    history = HistoryColumns.empty()
    exhausted = False

    def pull() -> None:
        nonlocal history, exhausted
        block = next(blocks, None)
        if block is None:
            exhausted = True
        else:
            history = history.concat(block)

    since_us = epoch_micros(since)
    while not exhausted and (len(history) == 0 or history.micros[-1] < since_us):
        pull()
    cursor = history.start_at(since_us)
    while True:
        # Read on until the chunk's last payment and every row at its time are in.
        while not exhausted and (
            len(history) - cursor <= CHUNK or history.micros[-1] <= history.micros[cursor + CHUNK - 1]
        ):
            pull()
        end = min(cursor + CHUNK, len(history))
        if end <= cursor:
            return
        # The history starts HISTORY_WINDOW before the chunk's first payment (as a stored payment's check reads it).
        first = history.start_at(int(history.micros[cursor]) - HISTORY_WINDOW // timedelta(microseconds=1))
        history, cursor, end = history[first:], cursor - first, end - first
        yield BacktestChunk(
            history=history, rows=slice(cursor, end), matrix=history.features()[cursor:end], codes=codes
        )
        cursor = end


class _Members:
    """Each member's region and phone hash, read once per member, by member code."""

    def __init__(self, codes: HistoryCodes):
        self.codes = codes
        self.region: list[str] = []
        self.phone_hash: list[str] = []
        self.reference: list[str] = []

    def columns(self, member_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(region, phone hash, member reference) of each row's member, as object arrays."""
        known = len(self.region)
        new = self.codes.members[known:]
        if new:
            found = {m[0]: m[1:] for m in Member.objects.filter(pk__in=new).values_list("id", "region", "phone_hash")}
            for member in new:
                region, phone = found.get(member, ("", ""))
                self.region.append(region or "")
                self.phone_hash.append(phone or "")
                self.reference.append(str(member))
        take = [
            np.array(column, dtype=object)[member_codes] for column in (self.region, self.phone_hash, self.reference)
        ]
        return take[0], take[1], take[2]


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector for the chunk loop.

    The loop makes millions of short-lived tuples, lists and UUIDs (the
    rows read, the rules' answers) and no reference cycles: with the
    collector on, their count triggers full collections that walk the whole
    process again and again (a million payments: 26 s instead of 16 s).
    Reference counting still frees everything as it goes.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _hit_matrix(fired: list[list[str]], column: dict[str, int]) -> np.ndarray:
    """(n, rules) bool: which rules fired for each row."""
    hits = np.zeros((len(fired), len(column)), dtype=bool)
    for i, ids in enumerate(fired):
        for rule_id in ids:
            hits[i, column[rule_id]] = True
    return hits


class _WindowContext:
    """The member baseline (`fraud.member_context.CONTEXT`) of every payment of the window, in chunk order.

    Read only when a rule names a member-context name or the served model
    reads the baseline: one more ordered read, from `CONTEXT_DAYS` before the
    window, and the numpy form the training uses (`context_from_columns`),
    which a test checks against the check's one-statement form.
    """

    def __init__(self, *, since, now):
        codes = HistoryCodes()
        blocks = payment_history_blocks(since=since - timedelta(days=CONTEXT_DAYS), until=now, block=CHUNK, codes=codes)
        history = HistoryColumns.joined(list(blocks))
        members = np.array([str(m) for m in codes.members], dtype=object)[history.member]
        context = context_from_columns(
            member=history.member,
            micros=history.micros,
            is_invoice=history.is_invoice,
            device=history.device,
            location=history.location,
            amount_sats=history.amount_sats,
            order=history.ids,
            blank=0,
            **stored_member_columns(members, history.micros),
        )
        start = history.start_at(epoch_micros(since))
        self.ids, self.context, self.cursor = history.ids[start:], context[start:], 0

    def take(self, ids: np.ndarray) -> np.ndarray:
        """The context rows of the next chunk's payments (`ids`, in the same order)."""
        end = self.cursor + len(ids)
        if self.ids[self.cursor : end].tolist() != ids.tolist():
            raise RuntimeError("the window's payments changed while the backtest ran")
        out, self.cursor = self.context[self.cursor : end], end
        return out


def ruleset_backtest_run(*, ruleset: RuleSet, window_days: int, now=None) -> dict:
    """Run one version and the published one over the window's stored payments; return the report."""
    now = now or timezone.now()
    since = now - timedelta(days=window_days)
    candidate = _compiled(ruleset)
    published_row = ruleset_published()
    published = _compiled(published_row) if published_row is not None else compile_ruleset([], version="none")
    loaded = registry.get_active(MODEL_NAME)
    layer = loaded.model.supervised if loaded is not None else None
    reads_context = bool(candidate.context_names or published.context_names) or bool(layer and layer.uses_context)
    window_context = _WindowContext(since=since, now=now) if reads_context else None
    total = Payment.objects.filter(created_at__gte=since, created_at__lte=now).count()
    verdicts = {}
    for payment_id, is_fraud in analyst_verdicts().items():
        try:
            verdicts[uuid.UUID(payment_id).int] = is_fraud
        except ValueError:
            continue
    rule_ids = [r.id for r in candidate.rules]
    column = {rid: j for j, rid in enumerate(rule_ids)}
    per_rule = np.zeros((len(rule_ids), 5), dtype=np.int64)  # hits, holds, reviews, confirmed_fraud, false_positive
    totals = {
        "candidate": {"hits": 0, "holds": 0, "reviews": 0, "tp": 0, "fp": 0},
        "published": {"hits": 0, "holds": 0, "reviews": 0, "tp": 0, "fp": 0},
    }
    gained, lost, examples_gained, examples_lost = 0, 0, [], []
    frauds_in_window = refuted_in_window = payments_seen = 0
    segments: dict[str, dict] = {}  # by member region: payments and flagged (hold or review) by this version
    flagged_by_day: Counter[str] = Counter()  # local day -> payments this version flags (the report's chart)
    chunks = max(1, -(-total // CHUNK))
    codes = HistoryCodes()
    members = _Members(codes)
    with _collector_paused():
        for c, chunk in enumerate(_chunks(since=since, now=now, codes=codes)):
            # The chunk's payments, their history rows and their feature matrix: chunk.payments, chunk.history,
            # chunk.matrix (chunk.rows: the payments' positions in chunk.history).
            payments = chunk.payments
            matrix = chunk.matrix
            n = len(payments)
            payments_seen += n
            regions, phones, references = members.columns(payments.member)
            subjects = {
                "user_id": references,
                "device_id": np.array(codes.devices, dtype=object)[payments.device],
                "location": np.array(codes.locations, dtype=object)[payments.location],
                "phone_hash": phones,
            }
            if loaded is not None:
                isolation, probability = loaded.model.anomaly(matrix)
            else:
                isolation = probability = None
            context = window_context.take(payments.ids) if window_context is not None else None
            labels = [verdicts.get(pid) for pid in payments.ids.tolist()]
            confirmed = np.fromiter((v is True for v in labels), dtype=bool, count=n)
            refuted = np.fromiter((v is False for v in labels), dtype=bool, count=n)
            frauds_in_window += int(confirmed.sum())
            refuted_in_window += int(refuted.sum())
            decided, flagged = {}, {}
            for name, compiled in (("candidate", candidate), ("published", published)):
                scores, _reasons, outcomes, fired = combine_served(
                    matrix,
                    None,
                    probability,
                    isolation,
                    compiled,
                    model=loaded.model if loaded is not None else None,
                    subject_columns=subjects,
                    context=context,
                )
                decisions = np.array(ruleset_decisions(scores, outcomes), dtype=object)
                hold, review = decisions == "hold", decisions == "review"
                decided[name], flagged[name] = decisions, hold | review
                t = totals[name]
                t["hits"] += sum(1 for ids in fired if ids)
                t["holds"] += int(hold.sum())
                t["reviews"] += int(review.sum())
                t["tp"] += int((flagged[name] & confirmed).sum())
                t["fp"] += int((flagged[name] & refuted).sum())
                if name == "candidate":
                    # Per rule: its hits, and among them holds, reviews, confirmed frauds and false positives.
                    outcomes_by_row = np.column_stack([np.ones(n, dtype=bool), hold, review, confirmed, refuted])
                    per_rule += _hit_matrix(fired, column).T.astype(np.int64) @ outcomes_by_row.astype(np.int64)
                    _segments_add(segments, regions, flagged[name])
                    for micros in payments.micros[flagged[name]].tolist():
                        at = datetime.fromtimestamp(micros / 1e6, tz=UTC)
                        flagged_by_day[timezone.localdate(at).isoformat()] += 1
            before, after = flagged["published"], flagged["candidate"]
            gained += int((after & ~before).sum())
            lost += int((before & ~after).sum())
            for mask, examples in ((after & ~before, examples_gained), (before & ~after, examples_lost)):
                for i in np.flatnonzero(mask)[: max(0, EXAMPLES - len(examples))].tolist():
                    examples.append(
                        {
                            "payment_id": str(uuid.UUID(int=payments.ids[i])),
                            "before": decided["published"][i],
                            "after": decided["candidate"][i],
                        }
                    )
            _progress(ruleset, window_days, c + 1, chunks)

    def overall(t):
        flagged = t["holds"] + t["reviews"]
        return {
            "hits": t["hits"],
            "holds": t["holds"],
            "reviews": t["reviews"],
            "flagged": flagged,
            "precision": _ratio(t["tp"], t["tp"] + t["fp"]),
            "recall": _ratio(t["tp"], frauds_in_window),
        }

    cand = overall(totals["candidate"])
    alerts_per_day = round(cand["flagged"] / window_days, 1)
    keys = ("hits", "holds", "reviews", "confirmed_fraud", "false_positive")
    return {
        "state": "done",
        "progress": 100,
        "window_days": window_days,
        "since": since.date().isoformat(),
        "until": now.date().isoformat(),
        "payments": payments_seen,
        "model_version": loaded.version if loaded is not None else None,
        "published_version": published_row.number if published_row is not None else None,
        "verdicts": {"confirmed_fraud": frauds_in_window, "false_positive": refuted_in_window},
        "overall": cand,
        "published": overall(totals["published"]),
        "rules": [
            {"id": rid, **{k: int(v) for k, v in zip(keys, per_rule[j].tolist(), strict=True)}}
            for j, rid in enumerate(rule_ids)
        ],
        "gained": gained,
        "lost": lost,
        "examples_gained": examples_gained,
        "examples_lost": examples_lost,
        "alerts_per_day": alerts_per_day,
        "flagged_per_day": dict(sorted(flagged_by_day.items())),
        "segments": sorted(segments.values(), key=lambda r: (-r["flagged"], r["region"])),
        "capacity": settings.ANALYST_DAILY_CAPACITY,
        "over_capacity": alerts_per_day > settings.ANALYST_DAILY_CAPACITY,
        "finished_at": timezone.now().isoformat(timespec="seconds"),
    }


def _segments_add(segments: dict[str, dict], regions: np.ndarray, flagged: np.ndarray) -> None:
    """Add a chunk's payments and flagged ones to the counts by member region."""
    for region, count in Counter(regions.tolist()).items():
        segments.setdefault(region, {"region": region, "payments": 0, "flagged": 0})["payments"] += count
    for region, count in Counter(regions[flagged].tolist()).items():
        segments[region]["flagged"] += count
