"""Rule engines: per-payment evaluation time of the six rules, compiled once (issue 15).

`python benchmarks/bench_rules.py` (standalone, no Django) times, for each
candidate engine that is importable, the evaluation of today's six rules
written as expressions against one payment's facts, over random payments:
p50 and p99 in microseconds per payment (all six rules). The baseline is
today's lambdas (`fraud.rules`). `make bench` runs `run()`, which times the
engine in requirements.txt only, through `fraud.rules_engine`, and then
issue 15's figure: the whole fraud check (`POST /api/fraud/check` through
Django's WSGI handler, audit write included) with a published version of 30
rules (`thirty_rule_specs`: v1 and `EXTRA_RULES`, reading four lists) beside
v1, in alternating blocks of one run; the ratio of the p50s is judged
against 1.2. The published version is put back afterwards (a rollback), so
the benchmarks after this one on the same database are served as before.

Candidates: `common-expression-language` (Rust cel bindings: one compiled
program returning the list of six answers, one context conversion a
payment), `cel-python` (pure Python CEL), `rule-engine` (pure Python, its
own grammar).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

N = 5_000
LIMIT = 100_000
CEL_RULES = [
    "invoices_last_min >= 3.0",
    "device_changes >= 1.0 && location_changes >= 1.0 && amount_sats >= 86349.0",
    "time_since_last_sec < 15.0 && amount_sats >= 787.0",
    "amount_sats >= 0.975 * reporting_limit && amount_sats < reporting_limit && time_since_last_sec < 21600.0",
    "amount_sats >= 0.975 * reporting_limit && amount_sats < reporting_limit && time_since_last_sec >= 21600.0",
    "amount_sats >= 823782.0",
]


def payments(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "amount_sats": float(rng.choice([rng.randint(1, 120_000), rng.randint(97_000, 100_000)])),
            "time_since_last_sec": float(rng.choice([rng.randint(0, 30), rng.randint(0, 2_592_000)])),
            "invoices_last_min": float(rng.randint(0, 5)),
            "device_changes": float(rng.randint(0, 2)),
            "location_changes": float(rng.randint(0, 2)),
            "reporting_limit": float(LIMIT),
        }
        for _ in range(n)
    ]


def _time(fn, rows) -> tuple[float, float]:
    samples = []
    for row in rows:
        t0 = time.perf_counter_ns()
        fn(row)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


def candidates() -> dict:
    out = {}
    try:
        import cel

        program = cel.compile("[" + ", ".join(CEL_RULES) + "]")
        out["common-expression-language (one program)"] = program.execute
        programs = [cel.compile(r) for r in CEL_RULES]
        out["common-expression-language (six programs)"] = lambda row: [p.execute(row) for p in programs]
    except ImportError:
        pass
    try:
        import celpy

        env = celpy.Environment()
        progs = [env.program(env.compile(r)) for r in CEL_RULES]

        def run_celpy(row):
            activation = {k: celpy.celtypes.DoubleType(v) for k, v in row.items()}
            return [p.evaluate(activation) for p in progs]

        out["cel-python"] = run_celpy
    except ImportError:
        pass
    try:
        import rule_engine

        ctx = rule_engine.Context(default_value=None)
        rules = [rule_engine.Rule(r.replace("&&", "and"), context=ctx) for r in CEL_RULES]
        out["rule-engine"] = lambda row: [r.matches(row) for r in rules]
    except ImportError:
        pass
    return out


def baseline():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(FRAUD_STRUCTURING_LIMIT_SATS=LIMIT)
        django.setup()
    from fraud.rules import DEFAULT_PARAMS, RULES

    return lambda row: [r.test(row, DEFAULT_PARAMS) for r in RULES]


def main() -> None:
    rows = payments(N)
    engines = {"today's lambdas (fraud.rules)": baseline(), **candidates()}
    try:
        from fraud.rules_engine import compile_ruleset, default_rule_specs

        compiled = compile_ruleset(default_rule_specs())
        engines["fraud.rules_engine v1 (chosen: cel, floats)"] = compiled.fired
    except ImportError:
        pass
    for name, fn in engines.items():
        for row in rows[:200]:
            fn(row)  # warm
        p50, p99 = _time(fn, rows)
        print(f"{name:45s} p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   (six rules, one payment)")


# The lists the 30-rule version reads: (name, kind, subject, entries); entries are made up, of each subject's shape.
LISTS = (
    ("appareils_bloques", "deny", "device", [f"dev-bloque-{i:04d}" for i in range(500)]),
    ("mules", "watch", "member", [f"m-mule-{i:04d}" for i in range(300)]),
    ("lieux_surveilles", "watch", "location", [f"lieu-{i:03d}" for i in range(50)]),
    ("telephones_bloques", "deny", "phone_hash", [f"{i:064x}" for i in range(200)]),
)

# 24 rules a risk team would add over the five features and the lists (id, effect, weight, expression, reason).
EXTRA_RULES = (
    (
        "structuring_tight",
        "weight",
        0.3,
        "amount_sats >= 0.95 * reporting_limit && amount_sats < reporting_limit && time_since_last_sec < 3600",
    ),
    (
        "structuring_halves",
        "weight",
        0.25,
        "amount_sats >= 0.45 * reporting_limit && amount_sats < 0.5 * reporting_limit && time_since_last_sec < 600",
    ),
    (
        "structuring_thirds",
        "weight",
        0.25,
        "amount_sats >= 0.3 * reporting_limit && amount_sats < 0.34 * reporting_limit && invoices_last_min >= 2",
    ),
    (
        "structuring_burst",
        "review",
        0.0,
        "amount_sats >= 0.9 * reporting_limit && amount_sats < reporting_limit && invoices_last_min >= 2",
    ),
    ("burst_large", "weight", 0.3, "invoices_last_min >= 2 && amount_sats >= 50000"),
    ("burst_extreme", "review", 0.0, "invoices_last_min >= 6"),
    ("burst_fast", "weight", 0.2, "invoices_last_min >= 2 && time_since_last_sec < 10"),
    ("rapid_many", "weight", 0.2, "time_since_last_sec < 5 && invoices_last_min >= 3"),
    ("rapid_large", "weight", 0.35, "time_since_last_sec < 60 && amount_sats >= 200000"),
    ("new_device_large", "weight", 0.3, "device_changes >= 1 && amount_sats >= 300000"),
    ("new_location_large", "weight", 0.25, "location_changes >= 1 && amount_sats >= 300000"),
    ("device_hopping", "review", 0.0, "device_changes >= 3"),
    ("location_hopping", "weight", 0.2, "location_changes >= 3"),
    (
        "device_location_fast",
        "weight",
        0.3,
        "device_changes >= 1 && location_changes >= 1 && time_since_last_sec < 300",
    ),
    ("takeover", "hold", 0.0, "device_changes >= 2 && location_changes >= 2 && amount_sats >= 50000"),
    ("dormant_large", "weight", 0.3, "time_since_last_sec >= 2000000 && amount_sats >= 400000"),
    ("dormant_new_device", "weight", 0.2, "time_since_last_sec >= 1000000 && device_changes >= 1"),
    ("twice_the_limit", "hold", 0.0, "amount_sats >= 2 * reporting_limit"),
    (
        "device_scaled_amount",
        "weight",
        0.2,
        "(device_changes >= 1 ? amount_sats >= 150000 : amount_sats >= 600000) && time_since_last_sec < 3600",
    ),
    ("blocked_device", "hold", 0.0, 'device in list("appareils_bloques")'),
    ("mule_member", "review", 0.0, 'member in list("mules")'),
    ("watched_location_large", "weight", 0.3, 'location in list("lieux_surveilles") && amount_sats >= 100000'),
    ("blocked_phone", "hold", 0.0, 'phone_hash in list("telephones_bloques")'),
    (
        "listed_and_bursting",
        "review",
        0.0,
        '(member in list("mules") || device in list("appareils_bloques")) && invoices_last_min >= 2',
    ),
)


def thirty_rule_specs() -> list[dict]:
    """v1's six rules and the 24 of `EXTRA_RULES`: the 30-rule version of issue 15's figure."""
    from fraud.rules_engine import default_rule_specs

    specs = default_rule_specs()
    for i, (rule_id, effect, weight, expression) in enumerate(EXTRA_RULES):
        specs.append(
            {
                "rule_id": rule_id,
                "name_fr": rule_id.replace("_", " "),
                "name_en": rule_id.replace("_", " "),
                "reason_fr": "Règle ajoutée : {amount_sats:.0f} sats, {invoices_last_min:.0f} factures en une minute.",
                "reason_en": "Added rule: {amount_sats:.0f} sats, {invoices_last_min:.0f} invoices in a minute.",
                "expression": expression,
                "effect": effect,
                "weight": weight,
                "priority": 100 + 10 * i,
                "enabled": True,
            }
        )
    return specs


def _combine_figures() -> list:
    """Compiled rulesets through fraud.detectors.combine_ruleset, one payment (the API's rules stage)."""
    import numpy as np

    from benchmarks.common import Figure
    from fraud.detectors import combine_rows, combine_ruleset
    from fraud.features import FEATURES
    from fraud.rules import DEFAULT_PARAMS
    from fraud.rules_engine import compile_ruleset, default_rule_specs

    rows = payments(N)
    matrices = [np.array([[row[name] for name in FEATURES]], dtype=np.float64) for row in rows]
    figures = []
    six = compile_ruleset(default_rule_specs())
    thirty = compile_ruleset(thirty_rule_specs(), list_values={name: values for name, _k, _s, values in LISTS})
    subjects = [{"user_id": "m-mule-0001" if i % 50 == 0 else "m-ordinaire"} for i in range(N)]
    cases = [
        ("today's lambdas, six rules", lambda i: combine_rows(matrices[i], None, None, None, DEFAULT_PARAMS)),
        ("v1 ruleset, six compiled rules", lambda i: combine_ruleset(matrices[i], None, None, None, six)),
        (
            "30 compiled rules (4 lists)",
            lambda i: combine_ruleset(matrices[i], None, None, None, thirty, subject_rows=[subjects[i]]),
        ),
    ]
    for name, fn in cases:
        for i in range(200):
            fn(i)
        p50, p99 = _time(fn, range(N))
        figures.append(
            Figure(name=f"fraud rules: {name}, one payment", unit="µs", p50=p50, p99=p99, n=N, notes="issue 15")
        )
    return figures


# --- The figure: the full check with 30 published rules beside v1, interleaved -------------------

AB_BLOCK = 100  # calls of one arm before switching to the other
AB_ROUNDS = 15
GOAL_RATIO = 1.2


EDITABLE = ("name_fr", "name_en", "reason_fr", "reason_en", "expression", "effect", "weight", "priority")


def bench_users():
    """Two risk admins: a maker and a checker (four eyes)."""
    from django.contrib.auth.models import Group, User

    from sunusav.audit_trail import ADMIN_GROUP, groups_ensure

    groups_ensure()
    group = Group.objects.get(name=ADMIN_GROUP)
    users = []
    for name in ("bench-maker", "bench-checker"):
        user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": True})
        user.groups.add(group)
        users.append(User.objects.get(pk=user.pk))  # fresh permission cache
    return users


def lists_fill(actor) -> None:
    """Create the lists of `LISTS` (through the service) and give them their entries."""
    from fraud.list_services import rule_list_create
    from fraud.models_lists import RuleList, RuleListEntry

    for name, kind, subject, values in LISTS:
        rule_list = RuleList.objects.filter(name=name).first() or rule_list_create(
            actor=actor, name=name, kind=kind, subject=subject
        )
        RuleListEntry.objects.filter(rule_list=rule_list).delete()
        RuleListEntry.objects.bulk_create(
            [RuleListEntry(rule_list=rule_list, value=v, reason="banc d'essai", created_by=actor) for v in values]
        )


def _publish_thirty():
    """Publish the 30-rule version as risk admins do (lists, draft, submit, approve by another, publish)."""
    from fraud.ruleset_services import (
        ruleset_approve,
        ruleset_draft_create,
        ruleset_publish,
        ruleset_rule_save,
        ruleset_submit,
    )

    maker, checker = bench_users()
    lists_fill(maker)
    draft = ruleset_draft_create(actor=maker, note="banc d'essai : 30 règles")
    for spec in thirty_rule_specs()[6:]:
        ruleset_rule_save(actor=maker, ruleset=draft, rule_id=spec["rule_id"], **{k: spec[k] for k in EDITABLE})
    ruleset_submit(actor=maker, ruleset=draft)
    ruleset_approve(actor=checker, ruleset=draft)
    return ruleset_publish(actor=checker, ruleset=draft)


def _served_pair():
    """(v1 as served, the 30-rule version as served): each compiled by fraud.ruleset_serving from the database."""
    from django.db import transaction

    from fraud.ruleset_selectors import ruleset_published
    from fraud.ruleset_services import ruleset_rollback
    from fraud.ruleset_serving import serving_invalidate, serving_rulesets

    serving_invalidate()
    v1, _shadow = serving_rulesets()
    before = ruleset_published()
    with transaction.atomic():
        _publish_thirty()
    serving_invalidate()
    thirty, _shadow = serving_rulesets()
    if before is not None:  # the benchmarks after this one (same database) are served what was published
        with transaction.atomic():
            ruleset_rollback(actor=bench_users()[1], to=before, note="banc d'essai : version d'avant")
        serving_invalidate()
    return v1, thirty


def _ab_figures() -> list:
    """The check through Django's WSGI handler with v1 then the 30-rule version served, in alternating blocks."""
    import json
    import os
    import time
    from unittest import mock

    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings

    from benchmarks.bench_fraud import ORDINARY, SEED_BODY, _ensure_model
    from benchmarks.common import Figure, wsgi_caller
    from fraud import detectors

    loaded, origin = _ensure_model()
    v1, thirty = _served_pair()
    if len(thirty.rules) != 30 or len(v1.rules) != 6:
        return [Figure(name="fraud check, 30 published rules vs v1", errors=1, notes=f"{v1} / {thirty}")]
    token = settings.AI_INTERNAL_TOKENS[0]
    load_before = os.getloadavg()
    figures = []
    configured_age = connection.settings_dict.get("CONN_MAX_AGE") or 0
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60  # persistent connections, as PostgreSQL is configured
    try:
        with override_settings(DEBUG=False):
            for label, body in (("suspicious payment (bench_fraud's body)", SEED_BODY), ("ordinary payment", ORDINARY)):
                call = wsgi_caller("/api/fraud/check", json.dumps(body).encode(), token)
                samples = {"v1": [], "thirty": []}
                elapsed = {"v1": 0.0, "thirty": 0.0}
                errors = {"v1": 0, "thirty": 0}
                fired = {}
                for arm, ruleset in (("v1", v1), ("thirty", thirty)):
                    with mock.patch.object(detectors, "serving_rulesets", lambda r=ruleset: (r, None)):
                        for _ in range(AB_BLOCK):  # warm-up
                            call()
                        fired[arm] = len(detectors.score_rows([body])[0].rules_fired)
                for r in range(AB_ROUNDS):
                    order = ("v1", "thirty") if r % 2 == 0 else ("thirty", "v1")
                    for arm in order:
                        ruleset = v1 if arm == "v1" else thirty
                        with mock.patch.object(detectors, "serving_rulesets", lambda r=ruleset: (r, None)):
                            started = time.perf_counter()
                            for _ in range(AB_BLOCK):
                                t0 = time.perf_counter_ns()
                                errors[arm] += call() != 200
                                samples[arm].append((time.perf_counter_ns() - t0) / 1e6)
                            elapsed[arm] += time.perf_counter() - started
                stats = {arm: _stats(samples[arm], elapsed[arm]) for arm in samples}
                ratio = stats["thirty"]["p50"] / stats["v1"]["p50"]
                load = "load average {:.2f} {:.2f} {:.2f} -> {:.2f} {:.2f} {:.2f} on {} CPUs".format(
                    *load_before, *os.getloadavg(), os.cpu_count()
                )
                common = (
                    f"{label}; WSGI handler in-process, DEBUG off, CONN_MAX_AGE=60, audit write; "
                    f"{AB_ROUNDS} rounds of {AB_BLOCK} calls a version, alternating; "
                    f"model {loaded.version if loaded else None} ({origin}); {load}"
                )
                figures.append(
                    Figure(
                        name=f"fraud check, published v1 (6 rules), {label}",
                        p50=stats["v1"]["p50"],
                        p99=stats["v1"]["p99"],
                        throughput=stats["v1"]["throughput"],
                        n=stats["v1"]["n"],
                        errors=errors["v1"],
                        goal="the comparison for the 30-rule figure",
                        notes=f"{fired['v1']} rules fire; {common}",
                    )
                )
                figures.append(
                    Figure(
                        name=f"fraud check, published 30 rules (4 lists), {label}",
                        p50=stats["thirty"]["p50"],
                        p99=stats["thirty"]["p99"],
                        throughput=stats["thirty"]["throughput"],
                        n=stats["thirty"]["n"],
                        errors=errors["thirty"],
                        value=round(ratio, 3),
                        goal=f"p50 <= {GOAL_RATIO}x v1's, same run (value: the ratio)",
                        met=ratio <= GOAL_RATIO and not errors["thirty"],
                        notes=f"p99 ratio {stats['thirty']['p99'] / stats['v1']['p99']:.2f}; "
                        f"{fired['thirty']} rules fire; {common}",
                        extra={"ratio_p50": ratio, "ratio_p99": stats["thirty"]["p99"] / stats["v1"]["p99"]},
                    )
                )
    finally:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = configured_age
    return figures


def _stats(samples: list[float], elapsed: float) -> dict:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "throughput": len(ordered) / elapsed,
        "n": len(ordered),
    }


def run():
    """`make bench`: the rules stage alone (combine_ruleset), then the full check with 30 rules beside v1."""
    return _combine_figures() + _ab_figures()


if __name__ == "__main__":
    main()


HEADING = "Fraud rules (issue 15): a check with 30 published rules beside v1"


def markdown(figures: list) -> list[str]:
    """The section of docs/PERFORMANCE.md: the A/B table with its ratios, then the rules stage alone."""
    import datetime as dt
    import os

    pairs = {}
    for f in figures:
        for arm, marker in (("v1", "published v1 (6 rules), "), ("thirty", "published 30 rules (4 lists), ")):
            if marker in f.name:
                pairs.setdefault(f.name.split(marker, 1)[1], {})[arm] = f
    notes = next((f.notes for f in figures if "rounds of" in f.notes), "")
    lines = [
        f"## {HEADING}",
        "",
        f"Measured {dt.datetime.now().isoformat(timespec='seconds')} by `python -m benchmarks rules --docs` "
        f"on {os.cpu_count()} cores shared with other work: `POST /api/fraud/check` through Django's WSGI handler "
        "in-process (DEBUG off, persistent connections, the audit write committed), the published version "
        f"compiled by `fraud.ruleset_serving` from the database: v1 (the migration's six rules) and a version of "
        f"30 (v1 and the 24 of `benchmarks/bench_rules.py` `EXTRA_RULES`: structuring variants, bursts, device "
        f"and place combinations, four lists of 50-500 entries), published through `fraud.ruleset_services` with "
        f"four eyes. The two alternate in blocks of {AB_BLOCK} calls, {AB_ROUNDS} rounds, in one run: judge the "
        "ratio.",
        "",
        "| payment | v1 p50 / p99 ms | v1 req/s | 30 rules p50 / p99 ms | 30 rules req/s | ratio p50 | ratio p99 "
        f"| goal: p50 ratio <= {GOAL_RATIO} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, pair in pairs.items():
        a, b = pair.get("v1"), pair.get("thirty")
        if a is None or b is None:
            continue
        lines.append(
            f"| {label} | {a.p50:.3f} / {a.p99:.3f} | {a.throughput:,.0f} | {b.p50:.3f} / {b.p99:.3f} "
            f"| {b.throughput:,.0f} | {b.p50 / a.p50:.2f}x | {b.p99 / a.p99:.2f}x | {'PASS' if b.met else 'FAIL'} |"
        )
    lines += ["", f"Run: {notes.split('; ', 1)[-1]}" if notes else "", ""]
    stage = [f for f in figures if f.name.startswith("fraud rules: ")]
    if stage:
        lines += [
            "The rules stage alone (`fraud.detectors.combine_ruleset`, one payment, no model), same run:",
            "",
            "| rules | p50 / p99 µs |",
            "|---|---|",
            *(
                f"| {f.name.removeprefix('fraud rules: ').removesuffix(', one payment')} | {f.p50:.1f} / {f.p99:.1f} |"
                for f in stage
            ),
            "",
        ]
    return lines
