"""A backtest's report as a version's page shows it: readable tables and two charts (issue 15).

`fraud.backtest` keeps the report as plain data on the version; this turns it
into what a risk admin reads, in the page's language: numbers grouped, shares
as percentages, dates as dates, decisions as words, each rule by its name in that language.
The charts are server-drawn SVG (`sunusav.charts`): per rule, its hits, holds
and reviews; per day of the window, the payments this version would flag
against the analysts' daily capacity. Each chart has its table beside it.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from sunusav.charts import Series, bar_chart
from sunusav.presenters import decision_label, number_text, percent_text, ui_in_english

LABEL_CHARS = 16  # a bar's label under the axis; the table beside names the rule in full


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


def _days(report: dict) -> list[tuple[date, int]]:
    """Every day of the window, oldest first, with the payments flagged that day (0 when none)."""
    since, until = _day(report.get("since")), _day(report.get("until"))
    counts = {_day(k): int(v) for k, v in (report.get("flagged_per_day") or {}).items()}
    if since is None or until is None:
        return sorted((d, n) for d, n in counts.items() if d is not None)
    return [
        (since + timedelta(days=i), counts.get(since + timedelta(days=i), 0)) for i in range((until - since).days + 1)
    ]


def _totals(row: dict) -> dict:
    return {
        "hits": number_text(row.get("hits", 0)),
        "holds": number_text(row.get("holds", 0)),
        "reviews": number_text(row.get("reviews", 0)),
        "precision": percent_text(row.get("precision")),
        "recall": percent_text(row.get("recall")),
    }


def backtest_report_view(report: dict, rules) -> dict:
    """Return the report ready for `admin/fraud/ruleset/_backtest.html` (`rules`: the version's `Rule` rows)."""
    if report.get("state") != "done":
        return {**report, "progress": number_text(report.get("progress", 0))}
    english = ui_in_english()
    names = {rule.rule_id: (rule.name_en if english else "") or rule.name_fr or rule.rule_id for rule in rules}
    rule_rows = [
        {
            "id": r["id"],
            "name": names.get(r["id"], r["id"]),
            **{k: number_text(r.get(k, 0)) for k in ("hits", "holds", "reviews", "confirmed_fraud", "false_positive")},
        }
        for r in report.get("rules", [])
    ]
    series = [
        Series(_("déclenchements"), [r.get("hits", 0) for r in report.get("rules", [])]),
        Series(_("blocages"), [r.get("holds", 0) for r in report.get("rules", [])]),
        Series(_("revues"), [r.get("reviews", 0) for r in report.get("rules", [])]),
    ]
    labels = [_short(row["name"]) for row in rule_rows]
    rules_chart = bar_chart(
        labels,
        series,
        title=_("Déclenchements, blocages et revues par règle"),
        width=max(460, 110 * len(labels)),
    )
    days = _days(report)
    capacity = report.get("capacity")
    days_chart = bar_chart(
        [date_format(d, pgettext("a day under a chart's axis (Django date format)", "d/m")) for d, _n in days],
        Series(_("paiements signalés"), [n for _d, n in days]),
        title=_("Paiements signalés (blocage ou revue) par jour, et capacité des analystes"),
        width=max(460, 12 * len(days) + 60),
        label_every=7,
        reference=(_("capacité"), capacity) if capacity is not None else None,
    )
    since, until = _day(report.get("since")), _day(report.get("until"))

    def example(e: dict, kind: str) -> dict:
        return {**e, "kind": kind, "before": decision_label(e.get("before")), "after": decision_label(e.get("after"))}

    return {
        "state": "done",
        "window_days": number_text(report.get("window_days")),
        "since": date_format(since, "SHORT_DATE_FORMAT") if since else "—",
        "until": date_format(until, "SHORT_DATE_FORMAT") if until else "—",
        "payments": number_text(report.get("payments", 0)),
        "alerts_per_day": number_text(report.get("alerts_per_day", 0)),
        "capacity": number_text(capacity),
        "over_capacity": report.get("over_capacity", False),
        "overall": _totals(report.get("overall", {})),
        "published": _totals(report.get("published", {})),
        "published_version": report.get("published_version"),
        "verdicts": {k: number_text(v) for k, v in report.get("verdicts", {}).items()},
        "rules": rule_rows,
        "rules_chart": rules_chart,
        "days": [{"day": date_format(d, "SHORT_DATE_FORMAT"), "flagged": number_text(n)} for d, n in days],
        "days_chart": days_chart,
        "segments": [
            {
                "region": s.get("region") or "—",
                "payments": number_text(s["payments"]),
                "flagged": number_text(s["flagged"]),
            }
            for s in report.get("segments", [])
        ],
        "gained": number_text(report.get("gained", 0)),
        "lost": number_text(report.get("lost", 0)),
        "examples": [example(e, "gained") for e in report.get("examples_gained", [])]
        + [example(e, "lost") for e in report.get("examples_lost", [])],
    }
