"""The back-office's own admin pages: the dashboard and "Try the models".

Both are wrapped by `admin.site.admin_view` (sunusav/backoffice/urls.py): staff
login, the admin's header and navigation. The dashboard reads
`backoffice.selectors` (bounded, briefly cached); the try page calls
the pure scoring functions and writes nothing.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from alerts.models import AlertType
from backoffice import selectors
from backoffice.case_evidence import cases_sla_summary
from backoffice.forms import CreditTryForm, FraudTryForm
from credit.features import FEATURES
from credit.scoring import DECISION_THRESHOLD, score_matrix
from fraud.detectors import score_rows
from sunusav.charts import Series, bar_chart, line_chart
from sunusav.presenters import duration_us_text, label_of, model_label, numbers_grouped

DASHBOARD_PERMISSION = "alerts.view_aialert"
TRY_PERMISSION = "sunusav.view_modelversion"


def _english() -> bool:
    return (get_language() or "fr").startswith("en")


def _charts(data: dict) -> dict:
    alert_labels = [str(AlertType(row["alert_type"]).label) for row in data["alerts"]]
    hours = [f"{row['hour']:%H}h" for row in data["per_hour"]]
    bands = data["credit"]["bands"]
    charts = {
        "alerts": bar_chart(
            alert_labels,
            [
                Series(_("ouvertes"), [row["open"] for row in data["alerts"]]),
                Series(_("total"), [row["total"] for row in data["alerts"]]),
            ],
            title=_("Alertes par type"),
        ),
        "bands": bar_chart(
            list(bands),
            Series(_("membres"), list(bands.values())),
            title=_("Répartition des scores de crédit par bande"),
        ),
        "checks": line_chart(
            hours,
            Series(_("vérifications"), [row["checks"] for row in data["per_hour"]]),
            title=_("Vérifications de fraude par heure (24 h)"),
            label_every=3,
        ),
        "holds": bar_chart(
            hours,
            Series(_("blocages"), [row["holds"] for row in data["per_hour"]], color="#ba2121"),
            title=_("Paiements bloqués par heure (24 h)"),
            label_every=3,
        ),
        "stages": [],
    }
    for kind in data["stages"]:
        if not kind["stages"]:
            continue
        labels = [label_of("stage", s["stage"]) for s in kind["stages"]]
        kind_label = label_of("metric", kind["metric_key"])
        charts["stages"].append(
            {
                "metric_key": kind["metric_key"],
                "label": kind_label,
                "n": kind["n"],
                "stages": [
                    {
                        **s,
                        "label": label,
                        "p50_text": duration_us_text(s["p50"]),
                        "p99_text": duration_us_text(s["p99"]),
                    }
                    for s, label in zip(kind["stages"], labels, strict=True)
                ],
                # Milliseconds: a chart's axis reads "1,2 ms" better than "1200 µs".
                "chart": bar_chart(
                    labels,
                    [
                        Series("p50", [s["p50"] / 1000 for s in kind["stages"]]),
                        Series("p99", [s["p99"] / 1000 for s in kind["stages"]]),
                    ],
                    title=_("Durée par étape (ms) : %(key)s") % {"key": kind_label},
                    unit=" ms",
                ),
            }
        )
    return charts


# The registry's reasons for serving the rule fallback, as an analyst reads them.
HEALTH_ERRORS = {
    "no active version": gettext_lazy("aucune version active"),
    "no loader": gettext_lazy("modèle inconnu de ce serveur"),
}


def _health_rows() -> list[dict]:
    """Return the models' health with their names and errors in the page's language (raw error as a tooltip)."""
    rows = []
    for row in selectors.model_health():
        error = row["error"]
        if not error:
            text = ""
        elif error in HEALTH_ERRORS:
            text = str(HEALTH_ERRORS[error])
        elif error.startswith("database"):
            text = _("base de données injoignable")
        else:
            text = _("artefact inutilisable")
        rows.append({**row, "label": model_label(row["name"]), "error_text": text})
    return rows


def _day_label(iso_day: str) -> str:
    try:
        return date_format(dt.date.fromisoformat(iso_day), "d/m")
    except ValueError:
        return iso_day


def dashboard(request):
    """Show the monitoring panels: alerts, credit scores, metrics, queues, fraud per hour, models, timings."""
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    window = request.GET.get("window", "24h")
    if window not in selectors.WINDOWS:
        window = "24h"
    data = selectors.dashboard_aggregates(window=window)
    per_hour = data["per_hour"]
    context = {
        **admin.site.each_context(request),
        "title": _("Tableau de bord"),
        "data": data,
        "window": window,
        "windows": [("24h", _("24 heures")), ("7d", _("7 jours"))],
        "window_label": _("24 heures") if window == "24h" else _("7 jours"),
        "alerts": [{**row, "label": AlertType(row["alert_type"]).label} for row in data["alerts"]],
        "metrics": [{**m, "label": label_of("metric", m["metric_key"])} for m in data["metrics"]],
        "queues": [
            {**q, "name": name, "label": model_label(name)} for name, q in (data["queues"]["queues"] or {}).items()
        ],
        "checks_24h": sum(r["checks"] for r in per_hour),
        "holds_24h": sum(r["holds"] for r in per_hour),
        "health": _health_rows(),
        "charts": _charts(data),
        "cases": cases_sla_summary(),
        **_governance(),
    }
    return TemplateResponse(request, "backoffice/dashboard.html", context)


def _governance() -> dict:
    """Drift rows (model, feature, day, week, warning) and the alert-volume chart against capacity."""
    summary = selectors.governance_summary()
    drift, capacity = summary["drift"], summary["capacity"]
    threshold = drift["threshold"]
    rows = []
    for model, run in sorted(drift["models"].items()):
        for feature, by_window in run["values"].items():
            values = [by_window.get("day"), by_window.get("week")]
            rows.append(
                {
                    "model": model,
                    "model_label": model_label(model),
                    "feature": feature,
                    "feature_label": label_of("feature", feature),
                    "day": values[0],
                    "week": values[1],
                    "warning": any(v is not None and v > threshold for v in values),
                }
            )
    days = capacity["days"]
    runs = [
        {
            **run,
            "model": model,
            "model_label": model_label(model),
            "computed_at_dt": parse_datetime(run["computed_at"]) if isinstance(run.get("computed_at"), str) else None,
        }
        for model, run in sorted(drift["models"].items())
    ]
    chart = bar_chart(
        [_day_label(day["date"]) for day in days],
        [
            Series(_("alertes"), [day["alerts"] for day in days]),
            Series(_("capacité"), [capacity["capacity"]] * len(days), color="#999"),
        ],
        title=_("Alertes par jour et capacité de l'équipe"),
    )
    return {"drift": drift, "drift_runs": runs, "drift_rows": rows, "capacity": capacity, "capacity_chart": chart}


def _credit_result(features: dict) -> dict:
    X = np.array([[float(features[name]) for name in FEATURES]], dtype=np.float64)
    prediction = score_matrix(X, reasons=True).prediction(0)
    lang = "en" if _english() else "fr"
    return {
        **prediction.as_dict(),
        "offer": prediction.score >= DECISION_THRESHOLD,
        "reason_texts": [
            {"code": r["code"], "text": numbers_grouped(r[lang]), "impact": r["impact"]} for r in prediction.reasons
        ],
    }


def _fraud_result(features: dict) -> dict:
    result = score_rows([{**features, "time_since_last_sec": float(features["time_since_last_sec"])}])[0]
    lang = "en" if _english() else "fr"
    return {
        **result.as_dict(),
        "reason_texts": [
            {"id": r["id"], "text": numbers_grouped(r[lang]), "weight": r.get("weight")} for r in result.reasons
        ],
    }


def try_models(request):
    """Score typed-in features with the active models; no member, payment, metric or alert is written."""
    if not request.user.has_perm(TRY_PERMISSION):
        raise PermissionDenied
    credit_form, fraud_form = CreditTryForm(), FraudTryForm()
    credit_result = fraud_result = None
    if request.method == "POST":
        which = request.POST.get("model")
        if which == "credit":
            credit_form = CreditTryForm(request.POST)
            if credit_form.is_valid():
                credit_result = _credit_result(credit_form.cleaned_data)
        elif which == "fraud":
            fraud_form = FraudTryForm(request.POST)
            if fraud_form.is_valid():
                fraud_result = _fraud_result(fraud_form.cleaned_data)
    context = {
        **admin.site.each_context(request),
        "title": _("Essayer les modèles"),
        "credit_form": credit_form,
        "fraud_form": fraud_form,
        "credit_result": credit_result,
        "fraud_result": fraud_result,
        "health": {h["name"]: h for h in selectors.model_health()},
        "now": timezone.now(),
    }
    return TemplateResponse(request, "backoffice/try_models.html", context)
