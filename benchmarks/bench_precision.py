"""Fraud precision on honest behaviour (issue 16): both layers by segment and typology, leave one segment out, speed.

One demo world (`backoffice.demo.generator.world_build`: `MEMBERS` members,
seed `SEED`, history ending at `ANCHOR`; its honest segments and fraud
typologies are documented in the generator) is built in the benchmark's
database, and one model is fitted on it as `train_fraud_model` fits one
(`fraud.training.fraud_model_fit`, with each payment's member baseline). Every
figure below is measured on the test half only: members held out of the fit
and of the choices made on validation.

- For each layer (anomaly and rules, as served before issue 16; the
  supervised layer), precision and recall of the hold decision and of
  hold-or-review, the false-positive rate of each honest segment and the
  recall of each typology, against the issue's goals.
- Leave one segment out (`fraud.measure.leave_one_segment_out`): for each
  honest segment, a model fitted without its payments, and that segment's
  false-positive rate under it ("unseen") beside the rate under the model
  that saw it ("seen"), on the same held-out members.
- The check's latency: `POST /api/fraud/check` of a stored member through
  Django's WSGI handler (persistent connections), served first by the
  anomaly-and-rules version of this model, then by the supervised version
  that reads the member's baseline (one aggregate query more), in
  alternating blocks of one run; the ratio of the p50s is judged against 1.2.

`PRECISION_BENCH_MEMBERS` sets the world's size (default 10,000 members, about
180,000 payments and 300 test frauds: about two minutes on 2 cores; a
smaller world leaves too few held-out frauds and segment payments to read
a rate of 1 % from). The model versions go to a temporary artifacts
directory; the version served before, if any, serves again afterwards.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, wsgi_caller

MEMBERS = int(os.environ.get("PRECISION_BENCH_MEMBERS", "10000"))
SEED = 16
ANCHOR = datetime(2026, 11, 24, tzinfo=UTC)
GOALS = {"hold_or_review": (0.95, 0.90), "hold_precision": 0.98, "segment_fpr": 0.01, "latency_ratio": 1.2}
_LAST: dict = {}  # the last run's measurements, for `markdown`
AB_BLOCK = 150
AB_ROUNDS = 8
BODY = {
    "amount_sats": 12_000,
    "time_since_last_sec": 86_400,
    "invoices_last_min": 0,
    "device_changes": 0,
    "location_changes": 0,
}


def _world():
    from backoffice.demo.generator import world_build, world_exists, world_flush

    if world_exists():
        world_flush()
    return world_build(members=MEMBERS, seed=SEED, anchor=ANCHOR)


def _layer_decisions(trained, features, context, layer: str) -> np.ndarray:
    from fraud.measure import trained_decisions

    as_served = dataclasses.replace(trained, layers={**trained.layers, "serving": layer})
    return trained_decisions(as_served, features, context)


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _met(value, goal, *, at_most=False) -> bool | None:
    if value is None:
        return None
    return value <= goal if at_most else value >= goal


def _layer_figures(data, trained) -> tuple[list[Figure], dict]:
    from fraud.measure_decisions import decisions_measure

    rows = trained.test_rows
    features, context = data.features[rows], data.context[rows]
    layers = ["anomaly_rules"] + (["supervised"] if trained.supervised is not None else [])
    figures, measured = [], {}
    for layer in layers:
        m = decisions_measure(
            labels=data.labels[rows],
            decisions=_layer_decisions(trained, features, context, layer),
            segments=data.segments[rows],
            patterns=data.patterns[rows],
        )
        measured[layer] = m
        serving = " (serves)" if trained.layers.get("serving") == layer else ""
        hr, hold = m["hold_or_review"], m["hold"]
        recall_goal, precision_goal = GOALS["hold_or_review"]
        figures.append(
            Figure(
                name=f"fraud precision, {layer}{serving}: hold-or-review recall",
                unit="ratio",
                value=hr["recall"],
                goal=f">= {recall_goal} at precision >= {precision_goal} (issue 16)",
                met=None if hr["recall"] is None else hr["recall"] >= recall_goal and hr["precision"] >= precision_goal,
                notes=f"precision {_fmt(hr['precision'])}; {m['n_fraud']} test frauds of {m['n']} test payments",
            )
        )
        figures.append(
            Figure(
                name=f"fraud precision, {layer}{serving}: hold precision",
                unit="ratio",
                value=hold["precision"],
                goal=f">= {GOALS['hold_precision']} (issue 16)",
                met=_met(hold["precision"], GOALS["hold_precision"]),
                notes=f"hold recall {_fmt(hold['recall'])}",
            )
        )
        for segment, rates in m["by_segment"].items():
            figures.append(
                Figure(
                    name=f"fraud precision, {layer}{serving}: false-positive rate, {segment} (hold-or-review)",
                    unit="ratio",
                    value=rates["fpr_hold_or_review"],
                    goal=f"<= {GOALS['segment_fpr']} (issue 16)",
                    met=_met(rates["fpr_hold_or_review"], GOALS["segment_fpr"], at_most=True),
                    notes=f"hold {_fmt(rates['fpr_hold'])}; {rates['n']} honest test payments",
                )
            )
        for typology, rates in m["by_typology"].items():
            figures.append(
                Figure(
                    name=f"fraud precision, {layer}{serving}: recall, {typology} (hold-or-review)",
                    unit="ratio",
                    value=rates["recall_hold_or_review"],
                    notes=f"hold {_fmt(rates['recall_hold'])}; {rates['n']} test frauds",
                )
            )
    return figures, measured


def _loso_figures(data, trained) -> tuple[list[Figure], list[dict]]:
    from fraud.measure import leave_one_segment_out

    started = time.monotonic()
    report = leave_one_segment_out(
        features=data.features,
        labels=data.labels,
        member_ids=data.member_ids,
        segments=data.segments,
        patterns=data.patterns,
        times=data.times,
        context=data.context,
        max_samples=trained.input_params.get("max_samples"),
        since_clip_sec=trained.input_params.get("since_clip_sec"),
    )
    seconds = time.monotonic() - started
    figures = [
        Figure(
            name=f"fraud precision, leave one segment out: {row['segment']} unseen (hold-or-review)",
            unit="ratio",
            value=row["fpr_hold_or_review_unseen"],
            goal=f"<= {GOALS['segment_fpr']} (issue 16)",
            met=_met(row["fpr_hold_or_review_unseen"], GOALS["segment_fpr"], at_most=True),
            notes=f"seen {_fmt(row['fpr_hold_or_review_seen'])}; hold unseen {_fmt(row['fpr_hold_unseen'])}, "
            f"seen {_fmt(row['fpr_hold_seen'])}; {row['n']} honest test payments; "
            f"served layer {row['serving_unseen']}; {len(report) + 1} fits in {seconds:.0f} s",
        )
        for row in report
    ]
    return figures, report


def _timed_blocks(arms: dict, switch) -> dict:
    samples = {name: [] for name in arms}
    for _ in range(AB_ROUNDS):
        for name, call in arms.items():
            switch(name)
            for _ in range(20):
                call()
            for _ in range(AB_BLOCK):
                t0 = time.perf_counter_ns()
                status = call()
                samples[name].append((time.perf_counter_ns() - t0) / 1e6)
                if status != 200:
                    raise RuntimeError(f"{name}: status {status}")
    return {name: sorted(values) for name, values in samples.items()}


def _latency_figures(data, trained) -> list[Figure]:
    from django.conf import settings
    from django.db import connection

    from fraud.detectors import MODEL_NAME
    from fraud.training import fraud_artifact_write
    from sunusav.ml import lifecycle
    from sunusav.ml.registry import registry
    from sunusav.models import Member, ModelVersion

    if trained.supervised is None:
        return [Figure(name="fraud check latency, supervised vs anomaly", notes="no supervised layer was fitted")]
    before = ModelVersion.objects.filter(name=MODEL_NAME, status="active").first()
    anomaly = dataclasses.replace(trained, supervised=None, layers={**trained.layers, "serving": "anomaly_rules"})
    supervised = dataclasses.replace(trained, layers={**trained.layers, "serving": "supervised"})
    versions = {}
    for name, fitted in (("anomaly_rules", anomaly), ("supervised", supervised)):
        manifest = fraud_artifact_write(trained=fitted, params={**fitted.input_params, "source": "bench_precision"})
        versions[name] = lifecycle.model_version_register(manifest=manifest, activated_by="bench_precision")
    member = Member.objects.order_by("pk").first()
    token = settings.AI_INTERNAL_TOKENS[0]
    call = wsgi_caller("/api/fraud/check", json.dumps({"user_id": str(member.pk), **BODY}).encode(), token)

    def switch(name: str) -> None:
        lifecycle.model_version_activate(model_version=versions[name], activated_by="bench_precision")
        registry.invalidate(MODEL_NAME)

    configured_age = connection.settings_dict.get("CONN_MAX_AGE") or 0
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60
    try:
        samples = _timed_blocks({"anomaly_rules": call, "supervised": call}, switch)
    finally:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = configured_age
        if before is not None:
            lifecycle.model_version_activate(model_version=before, activated_by="bench_precision")
        registry.invalidate(MODEL_NAME)
    p50 = {name: statistics.median(values) for name, values in samples.items()}
    p99 = {name: values[int(len(values) * 0.99)] for name, values in samples.items()}
    ratio = p50["supervised"] / p50["anomaly_rules"]
    load = "load average {:.2f} {:.2f} {:.2f} on {} CPUs".format(*os.getloadavg(), os.cpu_count())
    common = {"unit": "ms", "n": AB_BLOCK * AB_ROUNDS, "notes": f"a stored member; WSGI handler; {load}"}
    return [
        Figure(
            name="fraud check, anomaly and rules (before issue 16)",
            p50=p50["anomaly_rules"],
            p99=p99["anomaly_rules"],
            **common,
        ),
        Figure(
            name="fraud check, supervised layer with the member's baseline",
            p50=p50["supervised"],
            p99=p99["supervised"],
            **common,
        ),
        Figure(
            name="fraud check latency ratio, supervised / anomaly and rules (p50)",
            unit="ratio",
            value=ratio,
            goal=f"<= {GOALS['latency_ratio']} (issue 16)",
            met=ratio <= GOALS["latency_ratio"],
            notes=f"alternating blocks of {AB_BLOCK}, {AB_ROUNDS} rounds; {load}",
        ),
    ]


def run() -> list[Figure]:
    from django.conf import settings

    from fraud.selectors import labeled_payments
    from fraud.training import fraud_model_fit

    artifacts = settings.ML_ARTIFACTS_DIR
    settings.ML_ARTIFACTS_DIR = Path(tempfile.mkdtemp(prefix="precision-bench-"))
    try:
        started = time.monotonic()
        summary = _world()
        built = time.monotonic() - started
        data = labeled_payments()
        started = time.monotonic()
        trained = fraud_model_fit(
            features=data.features,
            labels=data.labels,
            member_ids=data.member_ids,
            patterns=data.patterns,
            times=data.times,
            segments=data.segments,
            context=data.context,
        )
        fitted = time.monotonic() - started
        world = Figure(
            name="fraud precision: the measured world",
            unit="payments",
            value=float(len(data.labels)),
            notes=f"{MEMBERS} members, seed {SEED}, anchor {ANCHOR.date()}; built in {built:.0f} s, fitted in "
            f"{fitted:.0f} s; serving {trained.layers.get('serving')}: {trained.layers.get('why', '')}; "
            f"{summary.payments_by_segment}",
        )
        layers, measured = _layer_figures(data, trained)
        loso, report = _loso_figures(data, trained)
        latency = _latency_figures(data, trained)
        _LAST.clear()
        _LAST.update(world=world, measured=measured, loso=report, latency=latency, serving=trained.layers)
        return [world, *layers, *loso, *latency]
    finally:
        settings.ML_ARTIFACTS_DIR = artifacts


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def markdown(figures: list[Figure]) -> list[str]:
    """The section of docs/PERFORMANCE.md: both layers side by side, leave one segment out, the check's speed."""
    if not _LAST:
        return ["## Fraud precision (issue 16)", "", "Not measured."]
    measured, loso, latency = _LAST["measured"], _LAST["loso"], _LAST["latency"]
    layers = list(measured)
    serving = _LAST["serving"].get("serving")
    title = {"anomaly_rules": "anomaly and rules", "supervised": "supervised layer"}
    head = " | ".join(title[layer] + (" (serves)" if layer == serving else "") for layer in layers)
    lines = [
        "## Fraud precision (issue 16)",
        "",
        f"`python -m benchmarks precision` ({_LAST['world'].notes}). Held-out test members only; "
        "goals: recall >= 0.95 at precision >= 0.90 on hold-or-review, hold precision >= 0.98, every honest "
        "segment's false-positive rate <= 1 %.",
        "",
        f"| figure | {head} | goal |",
        "|---|" + "---|" * len(layers) + "---|",
    ]

    def row(label, values, goal=""):
        lines.append(f"| {label} | " + " | ".join(values) + f" | {goal} |")

    row("hold-or-review recall", [_fmt(measured[ly]["hold_or_review"]["recall"]) for ly in layers], ">= 0.95")
    row("hold-or-review precision", [_fmt(measured[ly]["hold_or_review"]["precision"]) for ly in layers], ">= 0.90")
    row("hold recall", [_fmt(measured[ly]["hold"]["recall"]) for ly in layers])
    row("hold precision", [_fmt(measured[ly]["hold"]["precision"]) for ly in layers], ">= 0.98")
    for segment in measured[layers[0]]["by_segment"]:
        rates = [measured[ly]["by_segment"][segment] for ly in layers]
        row(
            f"false positives, {segment} (hold-or-review / hold; n {rates[0]['n']})",
            [f"{_pct(r['fpr_hold_or_review'])} / {_pct(r['fpr_hold'])}" for r in rates],
            "<= 1 %",
        )
    for typology in measured[layers[0]]["by_typology"]:
        rates = [measured[ly]["by_typology"][typology] for ly in layers]
        row(
            f"recall, {typology} (hold-or-review / hold; n {rates[0]['n']})",
            [f"{_fmt(r['recall_hold_or_review'])} / {_fmt(r['recall_hold'])}" for r in rates],
        )
    lines += [
        "",
        "Leave one segment out: a model fitted without the segment's payments (and without the held-out "
        "members), measured on the held-out members' honest payments of that segment, beside the model that "
        "saw the segment.",
        "",
        "| segment | n | unseen: hold-or-review / hold | seen: hold-or-review / hold | goal |",
        "|---|---|---|---|---|",
    ]
    for r in loso:
        lines.append(
            f"| {r['segment']} | {r['n']} | {_pct(r['fpr_hold_or_review_unseen'])} / {_pct(r['fpr_hold_unseen'])} "
            f"| {_pct(r['fpr_hold_or_review_seen'])} / {_pct(r['fpr_hold_seen'])} | <= 1 % |"
        )
    lines += [
        "",
        "| check (one stored member, WSGI handler) | p50 ms | p99 ms | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for f in latency:
        if f.unit == "ratio":
            lines.append(f"| {f.name} |  |  | {_fmt(f.value)} | {f.goal} | {'yes' if f.met else 'no'} |")
        elif f.p50 is not None:
            lines.append(f"| {f.name} | {_fmt(f.p50)} | {_fmt(f.p99)} |  |  |  |")
    lines += ["", latency[-1].notes if latency else "", ""]
    return lines
