"""Drift and health of the served models: population stability (PSI) and alert volume vs analysts.

Population stability index
--------------------------
For one variable (a model feature, or the model's score), with the training
data split into bins, `e_i` the share of training rows in bin i and `a_i` the
share of recent traffic in it:

    PSI = Σ_i (a_i - e_i) × ln(a_i / e_i)

A share of 0 (an empty bin) is replaced by `PSI_EPSILON` (1e-4) on either side
before the sum, so an empty bin costs a finite, large amount instead of an
infinity. Reading (the industry's usual one): below 0.1 stable, 0.1 to 0.25 a
moderate shift, above `PSI_WARNING` (0.25) a shift large enough to question the
model: `drift_summary()` lists those as warnings.

Reference (training): the bins are the training data's deciles
(`REFERENCE_BINS` = 10; repeated edges merged, so a feature with few values
gets fewer bins), and `e_i` the training rows' shares in them. Training writes
them into the model card under `reference_distribution` (`reference_distribution`
below). Artifacts trained before that have none: their drift is reported with
the status `no_reference` and no value, never guessed.

Traffic: the model's decisions recorded in `ai_metrics` in the last day and the
last 7 days before the run:
- credit features: `credit_prediction` rows (API calls; `meta.features`);
  credit score: `credit_prediction` and `credit_score` rows (API and scoring
  jobs) made by the active model version (`meta.model_version`).
- fraud features: `fraud_check` rows (`meta.features`), replays excluded;
  fraud score: the same rows made by the active model version, with a score
  (a failed check that took the default action has none).
Bins are counted in the database (one aggregate query per model and window).

Each value is stored as an `ai_metrics` row `psi` (value = PSI, meta: model,
model_version, feature, window, n, status, warning, run_id). The daily job
(`backoffice.tasks.drift_compute`) runs once per model version and day.

Alert volume vs capacity
------------------------
`alert_capacity_summary()` counts alerts opened per day (all types) against
`ANALYST_DAILY_CAPACITY`, the alerts the analyst team can review in a day, and
says when the thresholds raise more than that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.models import AIAlert, AIMetric
from alerts.services import metric_record
from sunusav.ml.drift import SCORE, psi
from sunusav.ml.registry import registry

PSI_KEY = "psi"
PSI_WARNING = 0.25
WINDOWS: dict[str, timedelta] = {"day": timedelta(days=1), "week": timedelta(days=7)}

STATUS_OK = "ok"
STATUS_NO_TRAFFIC = "no_traffic"
STATUS_NO_REFERENCE = "no_reference"
STATUS_NO_MODEL = "no_model"


# --- Traffic counts from ai_metrics ------------------------------------------------------


def _bin_filters(lookup: str, edges: list[float]) -> list[Q]:
    """Q objects selecting each bin of `lookup` (a field or JSON path) for `edges`."""
    if not edges:
        return [Q(**{f"{lookup}__isnull": False})]
    filters = [Q(**{f"{lookup}__lt": edges[0]})]
    filters += [Q(**{f"{lookup}__gte": lo, f"{lookup}__lt": hi}) for lo, hi in zip(edges, edges[1:], strict=False)]
    filters.append(Q(**{f"{lookup}__gte": edges[-1]}))
    return filters


def _traffic_counts(queryset, variables: dict[str, tuple[str, list[float]]]) -> dict[str, list[int]]:
    """Count `queryset` rows per bin of each variable ({name: (lookup, edges)}) in one aggregate query."""
    aggregates = {}
    for v, (lookup, edges) in enumerate(variables.values()):
        for i, condition in enumerate(_bin_filters(lookup, edges)):
            aggregates[f"v{v}_b{i}"] = Count("id", filter=condition)
    if not aggregates:
        return {}
    row = queryset.aggregate(**aggregates)
    out = {}
    for v, (name, (_lookup, edges)) in enumerate(variables.items()):
        out[name] = [int(row[f"v{v}_b{i}"] or 0) for i in range(len(edges) + 1)]
    return out


def _traffic_querysets(model: str, version: str, since: datetime, until: datetime):
    """Return (rows carrying the features, rows carrying the active version's score) of one window."""
    recent = AIMetric.objects.filter(created_at__gte=since, created_at__lt=until)
    if model == "credit":
        features = recent.filter(metric_key="credit_prediction")
        scores = recent.filter(
            metric_key__in=["credit_prediction", "credit_score"], meta__model_version=version
        ).exclude(metric_value__isnull=True)
        return features, scores
    checks = recent.filter(metric_key="fraud_check").exclude(meta__replay=True)
    return checks, checks.filter(meta__model_version=version).exclude(metric_value__isnull=True)


def model_drift(*, model: str, version: str, reference: dict, now: datetime) -> list[dict]:
    """Return the PSI of every feature and of the score of one model, for each window (no writes)."""
    results = []
    for window, span in WINDOWS.items():
        features_qs, scores_qs = _traffic_querysets(model, version, now - span, now)
        feature_refs = reference.get("features") or {}
        counts = _traffic_counts(
            features_qs, {name: (f"meta__features__{name}", ref["edges"]) for name, ref in feature_refs.items()}
        )
        if reference.get(SCORE):
            counts.update(_traffic_counts(scores_qs, {SCORE: ("metric_value", reference[SCORE]["edges"])}))
        refs = {**feature_refs, **({SCORE: reference[SCORE]} if reference.get(SCORE) else {})}
        for name, ref in refs.items():
            actual = counts.get(name, [])
            n = int(sum(actual))
            value = psi(ref["proportions"], actual) if n and sum(ref["proportions"]) > 0 else None
            results.append(
                {
                    "model": model,
                    "model_version": version,
                    "feature": name,
                    "window": window,
                    "value": None if value is None else round(value, 4),
                    "n": n,
                    "status": STATUS_OK if value is not None else STATUS_NO_TRAFFIC,
                    "warning": value is not None and value > PSI_WARNING,
                    "actual_counts": actual,
                }
            )
    return results


# --- The daily job and what the dashboard reads -----------------------------------------------


DRIFT_MODELS = ("credit", "fraud")


def drift_compute(*, now: datetime | None = None, force: bool = False) -> dict[str, str]:
    """Compute and store the PSI rows of each served model; once per model version and day unless `force`.

    Returns each model's outcome: `computed`, `already-done`, `no_reference` or `no_model`.
    """
    now = now or timezone.now()
    day = timezone.localdate(now).isoformat()
    outcomes = {}
    for model in DRIFT_MODELS:
        loaded = registry.get_active(model)
        version = loaded.version if loaded is not None else None
        run_id = f"{model}:{version}:{day}"
        if not force and AIMetric.objects.filter(metric_key=PSI_KEY, meta__run_id=run_id).exists():
            outcomes[model] = "already-done"
            continue
        base = {"model": model, "model_version": version, "run_id": run_id, "computed_at": now.isoformat()}
        reference = (loaded.manifest or {}).get("reference_distribution") if loaded is not None else None
        if loaded is None or not reference:
            status = STATUS_NO_MODEL if loaded is None else STATUS_NO_REFERENCE
            metric_record(
                key=PSI_KEY,
                value=None,
                meta={**base, "feature": None, "window": None, "status": status, "warning": False},
            )
            outcomes[model] = status
            continue
        for row in model_drift(model=model, version=version, reference=reference, now=now):
            metric_record(key=PSI_KEY, value=row["value"], meta={**row, **base})
        outcomes[model] = "computed"
    return outcomes


def drift_summary() -> dict:
    """Return the latest PSI run of each model and the values above `PSI_WARNING`.

    Shape: `{"threshold": 0.25, "models": {model: {"model_version", "status",
    "computed_at", "values": {feature: {"day": psi, "week": psi}}, "n": {...}}},
    "warnings": [{"model", "feature", "window", "value"}]}`; a model never
    checked is absent from `models`.
    """
    models, warnings = {}, []
    for model in DRIFT_MODELS:
        latest = (
            AIMetric.objects.filter(metric_key=PSI_KEY, meta__model=model)
            .order_by("-created_at")
            .values_list("meta", flat=True)
            .first()
        )
        if latest is None:
            continue
        rows = list(
            AIMetric.objects.filter(metric_key=PSI_KEY, meta__run_id=latest["run_id"])
            .order_by("created_at")
            .values_list("meta", flat=True)
        )
        values: dict[str, dict] = {}
        counts: dict[str, dict] = {}
        status = STATUS_OK
        for meta in rows:
            if meta.get("feature") is None:
                status = meta.get("status", STATUS_NO_REFERENCE)
                continue
            # Rows in creation order: a forced rerun of the same day overwrites the earlier values.
            values.setdefault(meta["feature"], {})[meta["window"]] = meta.get("value")
            counts.setdefault(meta["feature"], {})[meta["window"]] = meta.get("n")
        for feature, by_window in values.items():
            for window, value in by_window.items():
                if value is not None and value > PSI_WARNING:
                    warnings.append({"model": model, "feature": feature, "window": window, "value": value})
        if values and all(v is None for w in values.values() for v in w.values()):
            status = STATUS_NO_TRAFFIC
        models[model] = {
            "model_version": latest.get("model_version"),
            "status": status,
            "computed_at": latest.get("computed_at"),
            "values": values,
            "n": counts,
        }
    return {"threshold": PSI_WARNING, "models": models, "warnings": warnings}


def alert_capacity_summary(*, days: int = 7, now: datetime | None = None) -> dict:
    """Compare alerts opened per day (the last `days` local days, today included) with `ANALYST_DAILY_CAPACITY`.

    `over_capacity` is true when the average day of the period raised more
    alerts than the team can review; `days_over_capacity` counts the days that
    did. `message` says it in the active language.
    """
    now = now or timezone.now()
    capacity = int(settings.ANALYST_DAILY_CAPACITY)
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    per_day: dict = {first + timedelta(days=i): {} for i in range(days)}
    rows = (
        AIAlert.objects.filter(created_at__gte=start, created_at__lte=now)
        .annotate(day=TruncDate("created_at"))
        .values("day", "alert_type")
        .annotate(n=Count("id"))
    )
    for row in rows:
        if row["day"] in per_day:
            per_day[row["day"]][row["alert_type"]] = row["n"]
    series = [
        {
            "date": day.isoformat(),
            "alerts": sum(by_type.values()),
            "by_type": by_type,
            "over_capacity": sum(by_type.values()) > capacity,
        }
        for day, by_type in sorted(per_day.items())
    ]
    total = sum(d["alerts"] for d in series)
    average = total / days if days else 0.0
    over_days = sum(d["over_capacity"] for d in series)
    over = average > capacity
    if over:
        message = _(
            "Les seuils produisent en moyenne %(average).0f alertes par jour, plus que les %(capacity)d que "
            "l'équipe peut examiner."
        ) % {"average": average, "capacity": capacity}
    elif over_days:
        message = _("%(days)d jour(s) sur %(total)d ont dépassé la capacité de %(capacity)d alertes par jour.") % {
            "days": over_days,
            "total": days,
            "capacity": capacity,
        }
    else:
        message = _("Le volume d'alertes reste dans la capacité de l'équipe (%(capacity)d par jour).") % {
            "capacity": capacity
        }
    return {
        "capacity": capacity,
        "days": series,
        "total": total,
        "average_per_day": round(average, 1),
        "peak": max((d["alerts"] for d in series), default=0),
        "days_over_capacity": over_days,
        "over_capacity": over,
        "load": round(average / capacity, 3) if capacity > 0 else None,
        "message": message,
    }
