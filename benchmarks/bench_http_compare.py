"""Product vs the seed's own design vs the Django floor, over HTTP, in one run (issue 17).

Three servers run side by side on this machine for the whole comparison:

- product: the product under gunicorn with the repository's gunicorn.conf.py,
  production settings (DEBUG off, one JSON log line per request, Prometheus
  multiprocess mode, Redis cache), every decision's audit row committed to a
  fresh PostgreSQL database (`benchmarks.bench_http`'s machinery);
- seed design: `benchmarks.seed_service`, FastAPI on uvicorn with 2 workers,
  `Booster.predict` and onnxruntime on the same shipped models the product
  serves, one audit INSERT per decision into a PostgreSQL database of its own;
- floor: `benchmarks.floor`, one Django view that checks the token, parses the
  JSON body and answers it back, with no middleware and no apps, under the
  same gunicorn.conf.py: what Django itself costs a request.

Each endpoint (fraud check, credit predict, fraud batch-check and credit
batch-predict of 1,000 items) is driven by the same client, `wrk` (one
thread), at 1 and 8 connections; the three servers' runs are interleaved
(product, seed, floor; three rounds) so that a change in the machine's load
hits all three alike, and each figure is the median of its three runs. The
ratios are product / seed design and product / floor throughput (the
per-round ratios are printed too: their spread shows the noise).

The decision's own cost, for the 1-connection latency goal, is features +
model + rules as the product's own per-stage timer measures them inside the
server (`stages_us` in its request log lines, median over the 1-connection
runs), plus its one write: an audit-row INSERT timed in this process with
psycopg (autocommit, `synchronous_commit` off, a row the size of the
product's), after each of those runs. The product's own `writes` stage is
printed beside it: the difference is what its write path adds to one INSERT.

Knobs: CMP_SECONDS (default 10 a run), CMP_ROUNDS (3), CMP_CLIENTS ("1,8"),
CMP_ENDPOINTS (default all: fraud,credit,batch-check,batch-predict),
CMP_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/sunusav_bench_cmp;
the seed design uses the same name + "_seed"; both are created fresh and
dropped at the end unless CMP_KEEP_DB=1), CMP_REDIS_URL (default
redis://127.0.0.1:6379/12, emptied first), SEED_WORKERS (2),
SEED_ACCESS_LOG (1: uvicorn's access line per request, as the product logs
one), SEED_SYNCHRONOUS_COMMIT (off, as the product's audit rows), and
gunicorn's own (WEB_CONCURRENCY, ...), which the product and the floor share.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import numpy as np

from benchmarks.bench_http import (
    TOKEN,
    WRK_SCRIPT,
    _config_label,
    _loadavg,
    _prepare,
    _server_env,
    _start_gunicorn,
    _start_server,
    _stop,
    _wrk,
)
from benchmarks.common import Figure

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/sunusav_bench_cmp"
HEADING = "Product vs seed design vs Django floor (issue 17)"

# The seed's two example bodies (its API section), copied so this harness needs no product import.
FRAUD_BODY = {
    "user_id": "test-user",
    "amount_sats": 1_000_000,
    "time_since_last_sec": 5,
    "invoices_last_min": 10,
    "device_changes": 3,
    "location_changes": 2,
}
CREDIT_BODY = {
    "user_id": "bench-user",
    "tontine_contributions": 50000,
    "punctuality_rate": 0.9,
    "contributions_count": 10,
    "mobile_tx_volume": 100000,
    "avg_payment_delay_days": 1,
    "community_endorsements": 5,
}
BATCH = 1000
# The seed design's audit table (benchmarks/seed_service.py), where the one-write timing inserts too.
INSERT_SQL = (
    "INSERT INTO seed_audit (user_id, kind, score, decision, model_version, payload) VALUES (%s, %s, %s, %s, %s, %s)"
)
# The product's compute stages of a decision (`stages_us` in its request log; "shadow": a challenger's).
COMPUTE_STAGES = ("features", "model", "rules", "shadow")
# An audit row the size of the product's (~650 bytes of JSON), for the one write a decision needs.
AUDIT_PAYLOAD = json.dumps({"features": FRAUD_BODY, "reasons": ["invoice_burst"], "meta": "x" * 450})


def fraud_items(n: int = BATCH) -> list[dict]:
    """Return a batch like traffic: one suspicious payment (the seed's example) in 20, the rest ordinary."""
    ordinary = {**FRAUD_BODY, "amount_sats": 12_000, "time_since_last_sec": 86_400, "invoices_last_min": 0}
    return [{**(FRAUD_BODY if i % 20 == 0 else ordinary), "user_id": f"u{i % 50}"} for i in range(n)]


def credit_items(n: int = BATCH) -> list[dict]:
    """Return members drawn like the demo world's (most repay; some declines, which the product explains)."""
    rng = np.random.default_rng(1)
    punctuality = rng.beta(5, 1.5, n)
    count = rng.integers(0, 30, n)
    return [
        {
            "user_id": f"u{i}",
            "tontine_contributions": int(count[i] * rng.integers(5_000, 20_000)),
            "punctuality_rate": round(float(punctuality[i]), 3),
            "contributions_count": int(count[i]),
            "mobile_tx_volume": round(float(rng.gamma(2.0, 60_000)), 0),
            "avg_payment_delay_days": round(float(rng.gamma(1.2, 1.5) * (1.5 - punctuality[i])), 2),
            "community_endorsements": int(rng.poisson(2.5)),
        }
        for i in range(n)
    ]


# key, label, product (and floor) path, seed path, body, items a request
ENDPOINTS = [
    ("fraud", "POST fraud check", "/api/fraud/check", "/check", FRAUD_BODY, 1),
    ("credit", "POST credit predict", "/api/credit/predict", "/predict", CREDIT_BODY, 1),
    ("batch-check", "POST fraud batch-check, 1,000 items", "/api/fraud/batch-check", "/batch-check", None, BATCH),
    (
        "batch-predict",
        "POST credit batch-predict, 1,000 items",
        "/api/credit/batch-predict",
        "/batch-predict",
        None,
        BATCH,
    ),
]
TARGETS = ("product", "seed", "floor")


def _body(key: str, body: dict | None) -> dict:
    if body is not None:
        return body
    return {"items": fraud_items() if key == "batch-check" else credit_items()}


# --- Databases -------------------------------------------------------------------------------


def _fresh_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass


def _redis(url: str) -> str | None:
    import redis

    try:
        client = redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()
    except redis.RedisError:
        return None
    return url


# --- Servers -----------------------------------------------------------------------------------


def _get(url: str) -> dict:
    request = urllib.request.Request(url, headers={"X-Internal-Token": TOKEN})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"X-Internal-Token": TOKEN, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read()[:300].decode(errors="replace")}


def _check_answers(urls: dict[str, str], key: str, body: dict, items: int) -> None:
    """Fail early unless every server answers the endpoint 200 with the right shape (a 4xx is fast, not a figure)."""
    for target, url in urls.items():
        status, answer = _post(url, body)
        if status != 200:
            raise RuntimeError(f"{target} answered {status} to {url}: {answer}")
        if target == "floor":
            continue
        if items > 1 and len(answer.get("results", [])) != items:
            raise RuntimeError(f"{target} gave {len(answer.get('results', []))} results for {items} items at {url}")
        if items == 1 and not ({"score", "fraud_score"} & answer.keys()):
            raise RuntimeError(f"{target} answer without a score at {url}: {answer}")


def _decision_us(log: Path, start: int) -> list[tuple[int, int]]:
    """Return (compute stages, writes stage) microseconds of each product request logged after byte `start`."""
    out = []
    with log.open("rb") as fh:
        fh.seek(start)
        for line in fh:
            if b'"stages_us"' not in line:
                continue
            try:
                stages = json.loads(line)["stages_us"]
            except (ValueError, KeyError):
                continue
            out.append((sum(stages.get(stage, 0) for stage in COMPUTE_STAGES), stages.get("writes", 0)))
    return out


def _one_write_ms(url: str, n: int = 200) -> float:
    """Return the p50 of one audit INSERT (autocommit, synchronous_commit off) from this process."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET synchronous_commit TO off")
        row = ("bench", "audit", 0.5, "allow", "bench", AUDIT_PAYLOAD)
        samples = []
        for _ in range(n):
            started = time.perf_counter_ns()
            connection.execute(INSERT_SQL, row)
            samples.append((time.perf_counter_ns() - started) / 1e6)
    return statistics.median(samples)


# --- The comparison ----------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _summary(runs: list[dict]) -> dict:
    return {
        "rps": _median([r["rps"] for r in runs]),
        "p50": _median([r["p50_us"] / 1000 for r in runs]),
        "p99": _median([r["p99_us"] / 1000 for r in runs]),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
    }


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "FAIL"


def _goals(cells: dict, decision_ms: dict) -> list[dict]:
    """The issue's goals on the measured medians (printed as PASS/FAIL, never asserted)."""
    goals = []

    def ratio_goal(key, clients, other, floor_ratio, label):
        cell = cells.get((key, clients))
        if not cell:
            return
        product, comparison = cell["product"], cell[other]
        ratio = product["rps"] / comparison["rps"] if comparison["rps"] else float("nan")
        rounds = [
            p["rps"] / o["rps"] if o["rps"] else float("nan")
            for p, o in zip(cell["runs"]["product"], cell["runs"][other], strict=True)
        ]
        goals.append(
            {
                "goal": label,
                "measured": f"{ratio:.2f}x",
                "value": ratio,
                "rounds": ", ".join(f"{r:.2f}" for r in rounds),
                "met": ratio >= floor_ratio and product["errors"] == 0,
            }
        )

    for key, label in (("fraud", "fraud check"), ("credit", "credit predict")):
        ratio_goal(key, 8, "seed", 1.5, f"{label}, 8 conns: req/s >= 1.5x the seed design's")
        ratio_goal(key, 8, "floor", 0.5, f"{label}, 8 conns: req/s >= 0.5x the Django floor's")
        cell = cells.get((key, 1))
        if cell:
            floor_p50, product_p50 = cell["floor"]["p50"], cell["product"]["p50"]
            cost = decision_ms.get(key)
            if cost is None:
                goals.append(
                    {
                        "goal": f"{label}, 1 conn: p50 <= 2x the floor's p50 (+ the decision's cost: not measured, "
                        "no stage timings in the product's log)",
                        "measured": f"{product_p50:.2f} ms vs {2 * floor_p50:.2f} ms",
                        "value": product_p50,
                        "rounds": "",
                        "met": product_p50 <= 2 * floor_p50,
                    }
                )
            else:
                budget = 2 * floor_p50 + cost
                goals.append(
                    {
                        "goal": f"{label}, 1 conn: p50 <= 2x the floor's p50 + the decision's own cost",
                        "measured": f"{product_p50:.2f} ms vs 2 x {floor_p50:.2f} + {cost:.2f} = {budget:.2f} ms",
                        "value": product_p50,
                        "rounds": ", ".join(f"{r['p50_us'] / 1000:.2f}" for r in cell["runs"]["product"]),
                        "met": product_p50 <= budget,
                    }
                )
    for key, label in (("batch-check", "fraud batch-check"), ("batch-predict", "credit batch-predict")):
        for clients in sorted({c for k, c in cells if k == key}):
            ratio_goal(key, clients, "seed", 1.5, f"{label} of 1,000, {clients} conn(s): >= 1.5x the seed design's")
    return goals


def run() -> list[Figure]:
    seconds = int(os.environ.get("CMP_SECONDS", "10"))
    rounds = int(os.environ.get("CMP_ROUNDS", "3"))
    clients_list = [int(c) for c in os.environ.get("CMP_CLIENTS", "1,8").split(",") if c.strip()]
    wanted = [k.strip() for k in os.environ.get("CMP_ENDPOINTS", "").split(",") if k.strip()]
    endpoints = [e for e in ENDPOINTS if not wanted or e[0] in wanted]
    name = "HTTP comparison: product vs seed design vs Django floor"
    if not shutil.which("wrk"):
        return [Figure(name=name, errors=1, notes="not measured: wrk is not installed (apt-get install wrk)")]
    database_url = os.environ.get("CMP_DATABASE_URL", DEFAULT_PG)
    seed_url = database_url + "_seed"
    try:
        _fresh_database(database_url)
        _fresh_database(seed_url)
    except Exception as exc:  # psycopg.Error or an unreachable server
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [Figure(name=name, errors=1, notes=f"not measured: needs PostgreSQL ({first})")]

    load_start = _loadavg()
    started_at = datetime.now().isoformat(timespec="seconds")
    workdir = Path(tempfile.mkdtemp(prefix="sunusav-http-compare-"))
    script = workdir / "post.lua"
    script.write_text(WRK_SCRIPT)
    redis_url = _redis(os.environ.get("CMP_REDIS_URL", "redis://127.0.0.1:6379/12"))
    from tests.live_server import free_port

    servers: list[subprocess.Popen] = []
    try:
        # (a) the product, exactly as bench_http runs it.
        product_env = _server_env(database_url, redis_url, workdir)
        _prepare(product_env)
        config = _config_label(product_env)
        product_env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "prometheus-product")
        ports = {target: free_port() for target in TARGETS}
        product_log = workdir / "product.log"
        servers.append(_start_gunicorn(product_env, ports["product"], product_log))
        base = f"http://127.0.0.1:{ports['product']}"
        versions = {
            "credit": _get(f"{base}/api/credit/health")["model_version"],
            "fraud": _get(f"{base}/api/fraud/health")["model_version"],
        }

        # (b) the floor: same gunicorn.conf.py, the echo app instead of the product.
        floor_env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL"}}
        floor_env.update(
            {
                "DJANGO_SETTINGS_MODULE": "benchmarks.floor.settings",
                "FLOOR_TOKEN": TOKEN,
                "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus-floor"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        servers.append(
            _start_gunicorn(floor_env, ports["floor"], workdir / "floor.log", app="benchmarks.floor.wsgi:application")
        )

        # (c) the seed's own design on the models the product serves.
        from django.conf import settings

        artifacts = Path(settings.ML_ARTIFACTS_DIR)
        seed_workers = os.environ.get("SEED_WORKERS", "2")
        seed_env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "SEED_DATABASE_URL": seed_url,
            "SEED_TOKEN": TOKEN,
            "SEED_CREDIT_DIR": str(artifacts / "credit" / versions["credit"]),
            "SEED_FRAUD_DIR": str(artifacts / "fraud" / versions["fraud"]),
            "PYTHONUNBUFFERED": "1",
        }
        for model in ("credit", "fraud"):
            if not (artifacts / model / versions[model] / "manifest.json").is_file():
                raise RuntimeError(f"the product serves {model} {versions[model]}, not found under {artifacts}")
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.seed_service", "create-table"],
            cwd=ROOT,
            env=seed_env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"seed service table: {done.stderr[-1500:]}")
        seed_command = [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.seed_service:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(ports["seed"]),
            "--workers",
            seed_workers,
        ]
        if os.environ.get("SEED_ACCESS_LOG", "1") == "0":
            seed_command.append("--no-access-log")
        servers.append(_start_server(seed_command, seed_env, ports["seed"], workdir / "seed.log", "uvicorn"))

        cells: dict[tuple[str, int], dict] = {}
        decision_samples: dict[str, list[tuple[int, int]]] = {}
        write_samples: dict[str, list[float]] = {}
        for key, label, path, seed_path, body, items in endpoints:
            body = _body(key, body)
            urls = {
                "product": f"http://127.0.0.1:{ports['product']}{path}",
                "seed": f"http://127.0.0.1:{ports['seed']}{seed_path}",
                "floor": f"http://127.0.0.1:{ports['floor']}{path}",
            }
            _check_answers(urls, key, body, items)
            timeout = "10s" if items > 1 else "2s"
            for target in TARGETS:  # warm-up: models loaded, connections open, in every worker
                _wrk(urls[target], body, 8, 3, script, timeout=timeout)
            for clients in clients_list:
                runs: dict[str, list[dict]] = {target: [] for target in TARGETS}
                for _ in range(rounds):
                    for target in TARGETS:
                        offset = product_log.stat().st_size
                        runs[target].append(_wrk(urls[target], body, clients, seconds, script, timeout=timeout))
                        if target == "product" and clients == 1 and items == 1:
                            decision_samples.setdefault(key, []).extend(_decision_us(product_log, offset))
                            write_samples.setdefault(key, []).append(_one_write_ms(seed_url))
                cells[(key, clients)] = {
                    "label": label,
                    "items": items,
                    "runs": runs,
                    **{target: _summary(runs[target]) for target in TARGETS},
                }
                print(
                    f"  ... {label}, {clients} conn(s): "
                    + ", ".join(f"{t} {cells[(key, clients)][t]['rps']:.0f} req/s" for t in TARGETS),
                    flush=True,
                )
    finally:
        for server in servers:
            _stop(server)
        if os.environ.get("CMP_KEEP_DB") != "1":
            _drop_database(database_url)
            _drop_database(seed_url)
        shutil.rmtree(workdir, ignore_errors=True)

    load_end = _loadavg()
    decision = {
        key: {
            "compute": _median([c for c, _ in v]) / 1000,
            "one_write": _median(write_samples.get(key, [])),
            "product_writes": _median([w for _, w in v]) / 1000,
        }
        for key, v in decision_samples.items()
        if v
    }
    decision_ms = {key: d["compute"] + d["one_write"] for key, d in decision.items()}
    goals = _goals(cells, decision_ms)
    context = {
        "started_at": started_at,
        "seconds": seconds,
        "rounds": rounds,
        "load_start": load_start,
        "load_end": load_end,
        "cpus": os.cpu_count(),
        "config": config,
        "seed_workers": seed_workers,
        "cache": "Redis" if redis_url else "database",
        "decision_ms": decision_ms,
        "decision": decision,
        "versions": versions,
        "goals": goals,
    }
    labels = {
        "product": f"product (gunicorn {config})",
        "seed": f"seed design (FastAPI, uvicorn x{seed_workers})",
        "floor": f"Django floor (echo view, gunicorn {config})",
    }
    figures = []
    for (key, clients), cell in cells.items():
        for target in TARGETS:
            s = cell[target]
            ratios = {}
            if target == "product":
                ratios = {
                    other: s["rps"] / cell[other]["rps"] if cell[other]["rps"] else None for other in ("seed", "floor")
                }
            figures.append(
                Figure(
                    name=f"compare {cell['label']}, {clients} conn(s): {labels[target]}",
                    p50=s["p50"],
                    p99=s["p99"],
                    throughput=s["rps"],
                    throughput_unit="req/s",
                    n=s["requests"],
                    errors=s["errors"],
                    notes=f"median of {rounds} interleaved {seconds}-s wrk runs; load average {load_start} -> {load_end}"
                    + (
                        f"; product/seed {ratios['seed']:.2f}x, product/floor {ratios['floor']:.2f}x"
                        if ratios.get("seed") and ratios.get("floor")
                        else ""
                    ),
                    extra={
                        "compare": {
                            "key": key,
                            "clients": clients,
                            "target": target,
                            "items": cell["items"],
                            "label": cell["label"],
                            "runs": [
                                {k: r[k] for k in ("rps", "p50_us", "p99_us", "errors")} for r in cell["runs"][target]
                            ],
                            "ratios": ratios,
                        }
                    },
                )
            )
    for goal in goals:
        figures.append(
            Figure(
                name=f"goal: {goal['goal']}",
                unit="",
                value=goal["value"],
                goal=goal["goal"],
                met=goal["met"],
                notes=f"measured {goal['measured']}; per round {goal['rounds']}",
                extra={"compare_goal": goal},
            )
        )
    if figures:
        figures[0].extra["compare_context"] = context
    return figures


def markdown(figures: list[Figure]) -> list[str]:
    """Return the comparison as Markdown: the measured table with its ratios, then the goals with PASS/FAIL."""
    context = next((f.extra["compare_context"] for f in figures if "compare_context" in f.extra), None)
    if context is None:
        return [f"## {HEADING}", "", *(f"{f.name}: {f.notes}" for f in figures), ""]
    cells: dict[tuple[str, int], dict] = {}
    for f in figures:
        c = f.extra.get("compare")
        if c:
            cell = cells.setdefault((c["key"], c["clients"]), {"label": c["label"], "items": c["items"]})
            cell[c["target"]] = f
            if c["target"] == "product":
                cell["ratios"] = c["ratios"]

    def lat(f: Figure) -> str:
        return f"{f.p50:.2f} / {f.p99:.2f}" + (f" ({f.errors} errors)" if f.errors else "")

    def thr(f: Figure, items: int) -> str:
        return f"{f.throughput:,.0f}" + (f" ({f.throughput * items:,.0f} items/s)" if items > 1 else "")

    decision = (
        "; ".join(
            f"{k} {v['compute'] + v['one_write']:.2f} ms = {v['compute']:.2f} (features + model + rules, the "
            f"product's stage timer) + {v['one_write']:.2f} (one audit INSERT, psycopg, measured here); the "
            f"product's own writes stage {v['product_writes']:.2f} ms"
            for k, v in context.get("decision", {}).items()
        )
        or "not measured"
    )
    lines = [
        f"## {HEADING}",
        "",
        f"Measured {context['started_at']} by `python -m benchmarks http_compare` (first in `make bench`): "
        f"wrk (1 thread) against each server, runs of {context['seconds']} s interleaved product / seed design / "
        f"floor, {context['rounds']} rounds, medians. {context['cpus']} cores shared by the client, the servers and "
        f"PostgreSQL; load average at start {context['load_start']}, at end {context['load_end']} "
        "(on a shared machine absolute figures are noisy: read the ratios).",
        "",
        f"- product: gunicorn.conf.py ({context['config']}), DEBUG off, JSON request log, {context['cache']} cache, "
        "audit rows in PostgreSQL; sync workers close the connection after each answer (wrk reconnects).",
        f"- seed design: `benchmarks/seed_service.py`, FastAPI on uvicorn x{context['seed_workers']} (keep-alive), "
        "pydantic bodies, Booster.predict / onnxruntime on the same shipped models "
        f"(credit {context['versions']['credit']}, fraud {context['versions']['fraud']}), "
        "one audit INSERT a decision in its own PostgreSQL database.",
        "- floor: `benchmarks/floor/`, one Django view (token check, `json.loads`, `JsonResponse`), no middleware, "
        "same gunicorn.conf.py.",
        f"- the decision's own cost (medians at 1 conn): {decision}.",
        "",
        "| endpoint | conns | product p50 / p99 ms | product req/s | seed p50 / p99 ms | seed req/s "
        "| floor p50 / p99 ms | floor req/s | product / seed | product / floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (_key, clients), cell in cells.items():
        p, s, fl, items = cell["product"], cell["seed"], cell["floor"], cell["items"]
        r = cell.get("ratios") or {}
        lines.append(
            f"| {cell['label']} | {clients} | {lat(p)} | {thr(p, items)} | {lat(s)} | {thr(s, items)} "
            f"| {lat(fl)} | {thr(fl, items)} | {r.get('seed') or 0:.2f}x | {r.get('floor') or 0:.2f}x |"
        )
    lines += ["", "| goal | measured (median) | per round | result |", "|---|---|---|---|"]
    for goal in context["goals"]:
        lines.append(f"| {goal['goal']} | {goal['measured']} | {goal['rounds']} | {_verdict(goal['met'])} |")
    lines.append("")
    return lines
