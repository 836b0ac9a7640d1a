"""Reads behind the back-office dashboard and Models section.

Every query is bounded so the dashboard stays fast on big tables (1,000,000
`ai_metrics`, 100,000 `ai_alerts`): metric averages and per-hour counts look
at a recent window through the (metric_key, created_at) index, metric keys are
found by a loose index scan (one index probe per distinct key), the 7-day
averages add up per-day sums cached for a day and a half, stage timings
read at most `STAGE_SAMPLE` recent decisions of each kind. The aggregates are
cached in the shared cache for `DASHBOARD_CACHE_SECONDS` (30 s; 5 min for
the 7-day window).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.db import connection
from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from alerts.models import AIAlert, AIMetric, AlertType
from backoffice.drift import alert_capacity_summary, drift_summary
from credit.scoring import BAND_RANGES
from fraud.forest import arrays_from_bytes
from sunusav.api.cache_guard import TolerantCache
from sunusav.brokers import PRIORITIES, list_key
from sunusav.ml.registry import artifact_path, artifact_verify, registry
from sunusav.models import AnalystAction, Member, ModelVersion
from sunusav.queues import get_queue_stats
from sunusav.timings import STAGES

logger = logging.getLogger(__name__)

DASHBOARD_CACHE_SECONDS = 30
# The dashboard only uses the cache to go faster: with Redis down it recomputes its figures.
cache = TolerantCache("dashboard")
# A week's averages read ~7x the rows of a day's and move slowly: kept longer.
CACHE_SECONDS_BY_WINDOW = {"24h": DASHBOARD_CACHE_SECONDS, "7d": 300}
DASHBOARD_CACHE_KEY = "backoffice:dashboard:v1:{window}"
DAY_CACHE_KEY = "backoffice:metric-day:v1:{day}:{keys}"
DAY_CACHE_SECONDS = 36 * 3600
# Averages over the last 24 hours (rolling), or over 7 calendar days, today included.
WINDOWS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}
# Real-time decisions that store `meta.stages_us` (credit.services, fraud.services).
DECISION_KEYS = ("credit_prediction", "fraud_check")
FRAUD_CHECK_KEY = "fraud_check"
STAGE_SAMPLE = 5000
MODEL_NAMES = ("credit", "fraud")


# --- Dashboard --------------------------------------------------------------------------


def alerts_by_type() -> list[dict]:
    """Return open and total alerts per type (the seed's `GROUP BY alert_type`), every type listed.

    Grouped by (type, resolved) with COUNT(*): an index-only scan of
    (alert_type, resolved, created_at) on PostgreSQL.
    """
    counts: dict[str, dict[str, int]] = {t: {"total": 0, "open": 0} for t in AlertType.values}
    for row in AIAlert.objects.order_by().values("alert_type", "resolved").annotate(n=Count("*")):
        entry = counts.setdefault(row["alert_type"], {"total": 0, "open": 0})
        entry["total"] += row["n"]
        if row["resolved"] is not True:  # NULL (never set) is still open
            entry["open"] += row["n"]
    return [{"alert_type": t, **c} for t, c in counts.items()]


def credit_scores() -> dict:
    """Return the average credit score, the scored members and how many fall in each band (one scan)."""
    band_counts = {}
    for band, low, high in BAND_RANGES:
        cond = Q(credit_score__isnull=False)
        if low is not None:
            cond &= Q(credit_score__gte=low)
        if high is not None:
            cond &= Q(credit_score__lt=high)
        band_counts[band] = Count("id", filter=cond)
    row = Member.objects.order_by().aggregate(
        average=Avg("credit_score"), scored=Count("credit_score"), members=Count("id"), **band_counts
    )
    return {
        "average": None if row["average"] is None else round(float(row["average"]), 3),
        "scored": row["scored"],
        "members": row["members"],
        "bands": {band: row[band] for band, _, _ in BAND_RANGES},
    }


def metric_keys() -> list[str]:
    """Return the distinct `metric_key`s by a loose index scan (one probe per key, never a full scan)."""
    table = AIMetric._meta.db_table  # from the model, never from input
    sql = (
        f"WITH RECURSIVE k(key) AS ("
        f"  SELECT (SELECT MIN(metric_key) FROM {table})"
        f"  UNION ALL"
        f"  SELECT (SELECT MIN(metric_key) FROM {table} WHERE metric_key > k.key) FROM k WHERE k.key IS NOT NULL"
        f") SELECT key FROM k WHERE key IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def _metric_sums(keys: list[str], start: dt.datetime, end: dt.datetime | None) -> dict[str, list]:
    """Return {key: [rows, values, sum of values]} for rows in [start, end) (index range per key)."""
    rows = AIMetric.objects.filter(metric_key__in=keys, created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    return {
        r["metric_key"]: [r["n"], r["n_values"], float(r["total"] or 0)]
        for r in rows.order_by()
        .values("metric_key")
        .annotate(n=Count("*"), n_values=Count("metric_value"), total=Sum("metric_value"))
    }


def _averages(keys: list[str], sums: dict[str, list]) -> list[dict]:
    out = []
    for key in keys:
        n, n_values, total = sums.get(key, (0, 0, 0.0))
        out.append({"metric_key": key, "n": n, "average": total / n_values if n_values else None})
    return out


def metric_averages(*, since: dt.datetime) -> list[dict]:
    """Return, per metric key, the rows and the average value since `since` (one indexed query)."""
    keys = metric_keys()
    return _averages(keys, _metric_sums(keys, since, None)) if keys else []


def metric_averages_days(*, now: dt.datetime, days: int) -> list[dict]:
    """Return, per metric key, rows and average over the last `days` calendar days, today included.

    Each finished day's sums are cached for a day and a half (audit rows are
    not written into the past), so a cold dashboard reads only today's rows
    plus the days it has never seen.
    """
    keys = metric_keys()
    if not keys:
        return []
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [today - dt.timedelta(days=i) for i in range(days - 1, 0, -1)]
    digest = hashlib.sha256(",".join(keys).encode()).hexdigest()[:12]
    cache_keys = {start: DAY_CACHE_KEY.format(day=start.date().isoformat(), keys=digest) for start in starts}
    cached = cache.get_many(list(cache_keys.values()))
    total: dict[str, list] = {}
    missing = {}
    for start in starts:
        day = cached.get(cache_keys[start])
        if day is None:
            day = _metric_sums(keys, start, start + dt.timedelta(days=1))
            missing[cache_keys[start]] = day
        for key, (n, n_values, value) in day.items():
            acc = total.setdefault(key, [0, 0, 0.0])
            acc[0], acc[1], acc[2] = acc[0] + n, acc[1] + n_values, acc[2] + value
    if missing:
        cache.set_many(missing, DAY_CACHE_SECONDS)
    for key, (n, n_values, value) in _metric_sums(keys, today, None).items():
        acc = total.setdefault(key, [0, 0, 0.0])
        acc[0], acc[1], acc[2] = acc[0] + n, acc[1] + n_values, acc[2] + value
    return _averages(keys, total)


def fraud_checks_per_hour(*, now: dt.datetime, hours: int = 24) -> list[dict]:
    """Return fraud checks and holds per hour over the last `hours` hours (empty hours as zeros)."""
    end = timezone.localtime(now).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=hours)
    counts = {
        r["hour"]: r
        for r in AIMetric.objects.filter(metric_key=FRAUD_CHECK_KEY, created_at__gte=start)
        .annotate(hour=TruncHour("created_at"))
        .order_by()
        .values("hour")
        .annotate(checks=Count("id"), holds=Count("id", filter=Q(meta__decision="hold")))
    }
    by_hour = {timezone.localtime(h).replace(tzinfo=None): r for h, r in counts.items() if h is not None}
    out = []
    for i in range(hours):
        hour = timezone.localtime(start + dt.timedelta(hours=i))
        r = by_hour.get(hour.replace(tzinfo=None), {})
        out.append({"hour": hour, "checks": r.get("checks", 0), "holds": r.get("holds", 0)})
    return out


def _percentile(sorted_values: np.ndarray, q: float) -> int:
    # Nearest rank: the value a q-share of the decisions stayed at or under.
    index = max(int(np.ceil(q * len(sorted_values))) - 1, 0)
    return int(sorted_values[index])


def _stages_sql(key: str, since: dt.datetime, sample: int) -> tuple[int, list[dict]]:
    """PostgreSQL: nearest-rank p50/p99 per stage computed in the database (no JSON crosses the wire)."""
    table = AIMetric._meta.db_table  # from the model, never from input
    columns = [*STAGES, "total"]
    value = {name: f"(s->>'{name}')::bigint" for name in STAGES}
    value["total"] = (
        "CASE WHEN jsonb_typeof(s) = 'object' THEN "
        + " + ".join(f"COALESCE({value[name]}, 0)" for name in STAGES)
        + " END"
    )
    selects = ", ".join(
        f"percentile_disc(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY {value[name]}), count({value[name]})"
        for name in columns
    )
    # No condition on the JSON in the inner query: any makes the planner leave the
    # backward index scan that stops after `sample` rows (rows without stages,
    # e.g. batch rows, add NULLs that the aggregates skip).
    sql = (
        f"SELECT count(*) FILTER (WHERE jsonb_typeof(s) = 'object'), {selects} FROM ("
        f"  SELECT meta->'stages_us' AS s FROM {table}"
        f"  WHERE metric_key = %s AND created_at >= %s"
        f"  ORDER BY created_at DESC LIMIT %s"
        f") recent"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, since, sample])
        row = cursor.fetchone()
    stages = []
    for i, name in enumerate(columns):
        percentiles, n = row[1 + 2 * i], row[2 + 2 * i]
        if n and percentiles:
            stages.append({"stage": name, "p50": int(percentiles[0]), "p99": int(percentiles[1]), "n": n})
    return row[0], stages


def _stages_python(key: str, since: dt.datetime, sample: int) -> tuple[int, list[dict]]:
    rows = AIMetric.objects.filter(metric_key=key, created_at__gte=since).order_by("-created_at")
    stages_rows = [s for s in rows.values_list("meta__stages_us", flat=True)[:sample] if isinstance(s, dict)]
    stages = []
    for name in [*STAGES, "total"]:
        if name == "total":
            values = [sum(v for v in row.values() if isinstance(v, int | float)) for row in stages_rows]
        else:
            values = [row[name] for row in stages_rows if isinstance(row.get(name), int | float)]
        if values and (name != "total" or stages):
            ordered = np.sort(np.asarray(values, dtype=np.int64))
            stages.append(
                {"stage": name, "p50": _percentile(ordered, 0.50), "p99": _percentile(ordered, 0.99), "n": len(values)}
            )
    return len(stages_rows), stages


def stage_timings(*, since: dt.datetime, sample: int = STAGE_SAMPLE) -> list[dict]:
    """Return p50/p99 microseconds per stage of each real-time decision kind since `since`.

    Reads the newest `sample` decisions of each kind backwards along the
    (key, created_at) index; those without `meta.stages_us` (batch rows written
    in bulk) are skipped. Percentiles are nearest-rank; `total` is the sum of a
    decision's stages.
    """
    measure = _stages_sql if connection.vendor == "postgresql" else _stages_python
    out = []
    for key in DECISION_KEYS:
        n, stages = measure(key, since, sample)
        out.append({"metric_key": key, "n": n, "stages": stages})
    return out


def queue_stats() -> dict:
    """Return the queues' statistics, or an error string when the broker does not answer."""
    try:
        return {"queues": get_queue_stats(), "error": ""}
    except Exception as exc:  # a broker outage must not take the dashboard down
        logger.warning("queue stats unavailable: %s", type(exc).__name__)
        return {"queues": {}, "error": type(exc).__name__}


def model_health() -> list[dict]:
    """Return each model's active version and whether its rule fallback is answering in its place."""
    active = {mv.name: mv for mv in ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE)}
    out = []
    for name in sorted(set(registry.names) | set(MODEL_NAMES)):
        status = registry.status(name) if name in registry.names else {"status": "degraded", "error": "no loader"}
        row = active.get(name)
        out.append(
            {
                "name": name,
                "status": status["status"],
                "fallback": status["status"] != "ok",
                "serving_version": status.get("model_version"),
                "active_version": row.version if row else None,
                "activated_at": row.activated_at if row else None,
                "activated_by": row.activated_by if row else "",
                "trained_at": status.get("trained_at"),
                "error": status.get("error") or "",
            }
        )
    return out


def dashboard_aggregates(*, window: str = "24h", now: dt.datetime | None = None, use_cache: bool = True) -> dict:
    """Return the dashboard's expensive aggregates (cached briefly in the shared cache)."""
    key = DASHBOARD_CACHE_KEY.format(window=window)
    if use_cache:
        cached = cache.get(key)
        if cached is not None:
            return cached
    now = now or timezone.now()
    since = now - WINDOWS[window]
    data = {
        "computed_at": now,
        "window": window,
        "alerts": alerts_by_type(),
        "credit": credit_scores(),
        "metrics": metric_averages_days(now=now, days=7) if window == "7d" else metric_averages(since=since),
        "per_hour": fraud_checks_per_hour(now=now),
        "stages": stage_timings(since=now - dt.timedelta(hours=24)),
        "queues": queue_stats(),
    }
    if use_cache:
        cache.set(key, data, CACHE_SECONDS_BY_WINDOW[window])
    return data


def governance_summary() -> dict:
    """Return model drift (latest PSI run per model) and alert volume against the team's capacity.

    Cached like the other aggregates, per language: the capacity message is
    written in the reader's language.
    """
    from django.utils.translation import get_language

    key = f"{DASHBOARD_CACHE_KEY.format(window='governance')}:{get_language()}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    data = {"drift": drift_summary(), "capacity": alert_capacity_summary()}
    cache.set(key, data, CACHE_SECONDS_BY_WINDOW["24h"])
    return data


def dashboard_cache_clear() -> None:
    """Forget the cached aggregates (after an action that changes them, and in tests)."""
    cache.delete_many([DASHBOARD_CACHE_KEY.format(window=w) for w in WINDOWS])


# --- Models section ------------------------------------------------------------------------


def training_rows(model_version: ModelVersion) -> int | None:
    """Return how many rows the version was trained on, from its model card."""
    card = model_version.manifest or {}
    if isinstance(card.get("training_data"), dict) and card["training_data"].get("rows") is not None:
        return int(card["training_data"]["rows"])
    counts = card.get("counts") or {}
    if counts.get("fit") is not None:
        return int(counts["fit"])
    metrics = model_version.metrics or {}
    parts = [metrics.get(k) for k in ("n_train", "n_calibration", "n_test")]
    return sum(parts) if all(isinstance(p, int) for p in parts) else None


def headline_metrics(model_version: ModelVersion) -> list[tuple[str, object]]:
    """Return the few metrics worth a column: AUC for credit, PR-AUC/recall/FPR for fraud."""
    metrics = model_version.metrics or {}
    wanted = ("auc", "pr_auc", "recall_hold", "recall", "precision", "fpr", "brier", "ks")
    out = [(k, metrics[k]) for k in wanted if isinstance(metrics.get(k), int | float)]
    held_out = (metrics.get("held_out") or {}).get("model") or {}
    out += [(k, held_out[k]) for k in ("accuracy", "brier", "ks") if k in held_out and k not in dict(out)]
    return out[:5]


def feature_importances(model_version: ModelVersion) -> list[tuple[str, float]]:
    """Return (feature, share of importance) pairs, largest first, from the card or the artifact.

    The card's `feature_importances` when present; otherwise LightGBM's total
    gain per feature (credit) or the share of the forest's splits on each
    feature (fraud), read from the artifact and cached per version.
    """
    card = model_version.manifest or {}
    given = card.get("feature_importances")
    if isinstance(given, dict) and given:
        pairs = [(str(k), float(v)) for k, v in given.items()]
    else:
        try:
            pairs = list(_artifact_importances(model_version.name, model_version.version, model_version.sha256))
        except Exception as exc:  # a missing artifact must not break the page
            logger.warning("no feature importances for %s: %s", model_version, type(exc).__name__)
            return []
    total = sum(v for _, v in pairs) or 1.0
    return sorted(((k, round(v / total, 4)) for k, v in pairs), key=lambda kv: -kv[1])


@lru_cache(maxsize=32)
def _artifact_importances(name: str, version: str, sha256: str) -> tuple[tuple[str, float], ...]:
    manifest = artifact_verify(name=name, version=version, expected_sha256=sha256)
    folder: Path = artifact_path(name, version)
    features = list(manifest["features"])
    if name == "credit":
        import lightgbm as lgb

        booster = lgb.Booster(model_str=(folder / "model.txt").read_text())
        gains = booster.feature_importance(importance_type="gain")
        return tuple((f, float(g)) for f, g in zip(features, gains, strict=True))
    if name == "fraud":
        arrays = arrays_from_bytes((folder / "forest.npz").read_bytes())
        internal = arrays["left"] != np.arange(len(arrays["left"]))
        counts = np.bincount(arrays["feature"][internal], minlength=len(features))
        return tuple((f, float(c)) for f, c in zip(features, counts[: len(features)], strict=True))
    return ()


def flatten_metrics(metrics: dict, *, prefix: str = "", limit: int = 80) -> list[tuple[str, object]]:
    """Return a model card's metrics as (dotted.key, scalar) rows, for a readable table."""
    rows: list[tuple[str, object]] = []

    def walk(value, key):
        if len(rows) >= limit:
            return
        if isinstance(value, dict):
            for k in sorted(value):
                walk(value[k], f"{key}.{k}" if key else str(k))
        elif isinstance(value, list):
            if all(not isinstance(v, dict | list) for v in value):
                rows.append((key, ", ".join(str(v) for v in value)))
            else:
                for i, v in enumerate(value):
                    walk(v, f"{key}[{i}]")
        else:
            rows.append((key, value))

    walk(metrics or {}, prefix)
    return rows


def retrain_runs(*, name: str | None = None, limit: int = 10) -> list[dict]:
    """Return the newest retraining requests with their django-q2 status and result."""
    actions = AnalystAction.objects.filter(action=AnalystAction.Action.RETRAIN).select_related("actor")
    if name is not None:
        actions = actions.filter(after__model=name)
    return _runs(list(actions.order_by("-created_at")[:limit]))


def retrain_run(action) -> dict:
    """Return one retraining request's status (queued, waiting, running, success, failure) and result."""
    return _runs([action])[0]


def _runs(actions: list) -> list[dict]:
    from django_q.models import OrmQ, Task

    runs = []
    for action in actions:
        after = action.after or {}
        runs.append(
            {
                "action": action,
                "model": after.get("model"),
                "task_name": after.get("task_name", ""),
                "queue": after.get("queue", ""),
                "status": "queued",
                "result": None,
                "error": "",
                "started": None,
                "stopped": None,
            }
        )
    names = {run["task_name"] for run in runs if run["task_name"]}
    tasks = {}
    for task in Task.objects.filter(name__in=names).order_by("stopped"):
        tasks[task.name] = task  # the latest attempt wins
    pending = {}
    for run in runs:
        task = tasks.get(run["task_name"])
        if task is None:
            pending[run["task_name"]] = run
            continue
        run.update(started=task.started, stopped=task.stopped)
        if task.success:
            run.update(status="success", result=task.result if isinstance(task.result, dict) else None)
        else:
            run.update(status="failure", error=str(task.result or "")[-2000:])
    if pending:
        # ORM broker only: a job still in the broker is waiting, or running once a
        # worker holds its lock. (With Redis the status stays "queued" until the result lands.)
        keys = {list_key(run["queue"], priority) for run in pending.values() if run["queue"] for priority in PRIORITIES}
        now = timezone.now()
        for queued in OrmQ.objects.filter(key__in=keys).order_by("id")[:1000]:
            run = pending.get(queued.name())
            if run is not None:
                run["status"] = "running" if queued.lock is not None and queued.lock > now else "waiting"
    return runs
