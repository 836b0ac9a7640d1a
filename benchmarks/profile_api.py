"""`python -m benchmarks profile`: where a fraud check's and a credit predict's time goes, in-process (issue 17).

Each endpoint is called through Django's WSGI handler in this process, with a
raw WSGI environ as gunicorn passes it (`benchmarks.common.wsgi_caller`),
under the settings the HTTP benchmarks give the server: DEBUG off,
PostgreSQL (PROFILE_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/sunusav_bench_profile, created when
missing), the Redis cache (PROFILE_REDIS_URL, default redis://127.0.0.1:6379/12),
Prometheus multiprocess mode, the JSON request log (formatted, then written to
/dev/null). Only the product's URLs are used, none of its modules.

For each endpoint: the un-profiled in-process p50/p99; the product's own
stage timer (`stages_us` of its request log records); the round trips per
decision to PostgreSQL (counted in psycopg, by statement kind) and to Redis; then
`--n` calls (default 1,000) under cProfile, the time grouped: DRF request /
negotiation / parsing, auth + throttle, serializers, middleware, model,
database, cache, logging, metrics, JSON encoding, decision code, Django core.
A function's own time goes to its group by its file; the time of a builtin or
of a generic library (numpy, the standard library outside logging and json)
goes to the groups of its callers. cProfile slows every Python call, so
pure-Python layers look heavier than they are: read the shares.

`--docs TITLE` puts the breakdown into docs/PERFORMANCE.md as the section
TITLE (e.g. "Profile before"), which `make bench` then keeps.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import io
import json
import logging
import os
import pstats
import shutil
import statistics
import tempfile
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from benchmarks.bench_http_compare import CREDIT_BODY, FRAUD_BODY
from benchmarks.common import splice_sections, time_calls, wsgi_caller

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "profile-bench-token-0123456789abcdef"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/sunusav_bench_profile"
ENDPOINTS = [
    ("POST /api/fraud/check", "/api/fraud/check", FRAUD_BODY),
    ("POST /api/credit/predict", "/api/credit/predict", CREDIT_BODY),
]

GROUPS = [
    "DRF request/negotiation/parsing",
    "auth + throttle",
    "serializers",
    "middleware",
    "model",
    "database",
    "cache (Redis)",
    "logging",
    "metrics",
    "JSON encoding",
    "decision code",
    "Django core",
    "other",
]
P = f"{os.sep}"
# (group, path fragments): the first match wins, so the narrow ones come first.
PATH_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("JSON encoding", ("rest_framework/renderers.py", "rest_framework/utils/encoders.py", "sunusav/api/renderers.py")),
    ("JSON encoding", ("django/core/serializers/json.py",)),
    (
        "auth + throttle",
        (
            "rest_framework/authentication.py",
            "rest_framework/permissions.py",
            "rest_framework/throttling.py",
            "sunusav/api/auth.py",
            "sunusav/api/throttling.py",
        ),
    ),
    (
        "serializers",
        (
            "rest_framework/serializers.py",
            "rest_framework/fields.py",
            "rest_framework/relations.py",
            "rest_framework/validators.py",
            "rest_framework/utils/serializer_helpers.py",
            "rest_framework/utils/field_mapping.py",
            "rest_framework/utils/representation.py",
            "/serializers.py",
            "django/core/validators.py",
        ),
    ),
    (
        "DRF request/negotiation/parsing",
        ("rest_framework/", "sunusav/api/parsers.py", "/apis.py", "sunusav/api/errors.py"),
    ),
    (
        "middleware",
        (
            "django/middleware/",
            "/whitenoise/",
            "/axes/",
            "sunusav/middleware.py",
            "sunusav/api/middleware.py",
            "django/utils/deprecation.py",
            "django/core/handlers/exception.py",
            "/middleware.py",
        ),
    ),
    (
        "model",
        (
            "/lightgbm/",
            "/onnxruntime/",
            "/sklearn/",
            "credit/scoring.py",
            "credit/explain.py",
            "fraud/detectors.py",
            "fraud/forest.py",
            "fraud/rules.py",
            "sunusav/ml/",
            "sunusav/shadow.py",
        ),
    ),
    ("database", ("django/db/", "/psycopg/", "/psycopg_binary/", "/psycopg_pool/", "alerts/writes.py")),
    ("cache (Redis)", ("/redis/", "django/core/cache/")),
    ("logging", ("/logging/", "sunusav/logs.py")),
    ("metrics", ("/prometheus_client/", "sunusav/metrics.py", "sunusav/timings.py")),
    ("decision code", ("/credit/", "/fraud/", "/alerts/", "/sunusav/")),
    # `async_unsafe` wraps the database layer's entry points: generic, its callers' time.
    ("Django core", ("/django/",)),
]
# Builtins named after their library; any other builtin is its callers'.
BUILTIN_GROUPS = [
    ("JSON encoding", ("orjson",)),
    ("model", ("onnxruntime", "lightgbm", "sklearn")),
    ("database", ("psycopg",)),
    ("cache (Redis)", ("redis", "hiredis")),
    ("logging", ("logging",)),
    ("metrics", ("prometheus", "mmap")),
]


def own_group(func: tuple) -> str | None:
    """Return the group of a profiled function by its file (or a builtin's name); None for generic code."""
    filename, _, name = func
    if filename == "~":
        for group, words in BUILTIN_GROUPS:
            if any(word in name for word in words):
                return group
        return None
    path = filename.replace(os.sep, "/")
    if path.endswith("django/utils/asyncio.py"):
        return None
    if "/benchmarks/" in path or "cProfile" in path or "/profile.py" in path:
        return "other"
    for group, fragments in PATH_GROUPS:
        if any(fragment in path for fragment in fragments):
            return group
    return None


def breakdown(stats: dict, n: int, *, top: int = 4) -> dict:
    """Group a pstats dict's own times (ms per call of the endpoint); list each group's top entries.

    Cumulative entries that span most of the request (the handler, the
    middleware chain, the view) are left out of the groups' lists: they are
    the request's spine, not a cost of their group.
    """
    memo: dict[tuple, dict[str, float]] = {}

    def shares(func, stack=()) -> dict[str, float]:
        if func in memo:
            return memo[func]
        group = own_group(func)
        if group is not None:
            return {group: 1.0}
        callers = stats.get(func, (0, 0, 0, 0, {}))[4]
        if not callers or func in stack or len(stack) > 30:
            return {"other": 1.0}
        total = sum(c[2] for c in callers.values()) or sum(c[3] for c in callers.values()) or 1.0
        mix: dict[str, float] = defaultdict(float)
        for caller, c in callers.items():
            weight = (c[2] or c[3]) / total
            for group, share in shares(caller, (*stack, func)).items():
                mix[group] += weight * share
        memo[func] = dict(mix)
        return memo[func]

    self_ms: dict[str, float] = defaultdict(float)
    cumulative: dict[str, list[tuple[float, tuple]]] = defaultdict(list)
    own: dict[str, list[tuple[float, tuple]]] = defaultdict(list)
    for func, (_cc, _nc, tt, ct, _callers) in stats.items():
        for group, share in shares(func).items():
            self_ms[group] += tt * share * 1000 / n
        group = own_group(func)
        if group is not None:
            cumulative[group].append((ct * 1000 / n, func))
            own[group].append((tt * 1000 / n, func))
    total = sum(self_ms.values())
    spine = sorted(
        ((ms, f) for entries in cumulative.values() for ms, f in entries if ms > 0.6 * total), key=lambda e: -e[0]
    )
    spine_funcs = {f for _, f in spine}
    rows = []
    for group in GROUPS:
        if self_ms.get(group, 0) < 0.0005 and group not in cumulative:
            continue
        best = sorted((e for e in cumulative.get(group, []) if e[1] not in spine_funcs), key=lambda e: -e[0])
        heavy = sorted(own.get(group, []), key=lambda e: -e[0])
        rows.append(
            {
                "group": group,
                "self_ms": self_ms.get(group, 0.0),
                "share": self_ms.get(group, 0.0) / total if total else 0.0,
                "top": [(ms, _short(func)) for ms, func in best[:top]],
                "own_top": [(ms, _short(func)) for ms, func in heavy[:2]],
            }
        )
    return {"total_ms": total, "rows": rows, "spine": [(ms, _short(f)) for ms, f in spine[:8]]}


def _short(func: tuple) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    path = filename.replace(os.sep, "/")
    for marker in ("/site-packages/", "/lib/python3", str(ROOT).replace(os.sep, "/") + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib/python3"):
                path = path.split("/", 1)[-1]
            break
    return f"{path}:{line}({name})"


class RoundTrips:
    """Count round trips to PostgreSQL (at the driver, by statement kind) and Redis commands, while active.

    Counted in psycopg, not with `connection.execute_wrapper`: Django's own
    statements bypass the wrappers (the CONN_HEALTH_CHECKS `SELECT 1` before a
    request's first query), and psycopg sends a BEGIN of its own before the
    first statement of a transaction. A pipelined `executemany` and a COPY count once.
    """

    def __init__(self):
        self.statements: Counter = Counter()
        self.redis = 0

    def __enter__(self):
        import psycopg
        import redis.client
        from psycopg.pq import TransactionStatus

        idle = TransactionStatus.IDLE
        counter = self
        self._saved = [
            (psycopg.Cursor, "execute", psycopg.Cursor.execute),
            (psycopg.Cursor, "executemany", psycopg.Cursor.executemany),
            (psycopg.Cursor, "copy", psycopg.Cursor.copy),
            (psycopg.Connection, "commit", psycopg.Connection.commit),
            (psycopg.Connection, "rollback", psycopg.Connection.rollback),
            (redis.client.Redis, "execute_command", redis.client.Redis.execute_command),
            (redis.client.Pipeline, "execute", redis.client.Pipeline.execute),
        ]
        originals = {(cls, name): fn for cls, name, fn in self._saved}

        def kind(query) -> str:
            text = query.decode(errors="replace") if isinstance(query, bytes) else str(query)
            words = text.split(None, 1)
            return words[0].upper() if words and words[0].isalpha() else "OTHER"

        def statement(name):
            original = originals[(psycopg.Cursor, name)]

            def run(cursor, query, *args, **kwargs):
                connection = cursor.connection
                if not connection.autocommit and connection.info.transaction_status == idle:
                    counter.statements["BEGIN"] += 1
                counter.statements[kind(query)] += 1
                return original(cursor, query, *args, **kwargs)

            return run

        def end(name):
            original = originals[(psycopg.Connection, name)]

            def run(connection, *args, **kwargs):
                if connection.info.transaction_status != idle:
                    counter.statements[name.upper()] += 1
                return original(connection, *args, **kwargs)

            return run

        def redis_call(cls, name):
            original = originals[(cls, name)]

            def run(client, *args, **kwargs):
                counter.redis += 1
                return original(client, *args, **kwargs)

            return run

        psycopg.Cursor.execute = statement("execute")
        psycopg.Cursor.executemany = statement("executemany")
        psycopg.Cursor.copy = statement("copy")
        psycopg.Connection.commit = end("commit")
        psycopg.Connection.rollback = end("rollback")
        redis.client.Redis.execute_command = redis_call(redis.client.Redis, "execute_command")
        redis.client.Pipeline.execute = redis_call(redis.client.Pipeline, "execute")
        return self

    def __exit__(self, *exc):
        for cls, name, fn in self._saved:
            setattr(cls, name, fn)
        return False

    def per_call(self, n: int) -> dict:
        return {
            "postgres": sum(self.statements.values()) / n,
            "statements": {k: v / n for k, v in self.statements.most_common()},
            "redis": self.redis / n,
        }


class StageLog(logging.Handler):
    """Keep the stage timings and durations of the product's request log records."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.records: list[dict] = []

    def emit(self, record):
        stages = getattr(record, "stages_us", None)
        if stages is not None:
            self.records.append({**stages, "duration_us": getattr(record, "duration_us", 0)})

    def medians(self) -> dict:
        keys = {k for r in self.records for k in r}
        order = ["validation", "features", "model", "rules", "writes", "shadow", "answer", "duration_us"]
        return {k: statistics.median(r.get(k, 0) for r in self.records) for k in order if k in keys}


def _environment() -> str:
    """Set the server's production settings for this process; return a description of the database."""
    import psycopg

    url = os.environ.get("PROFILE_DATABASE_URL", DEFAULT_PG)
    base, name = url.rsplit("/", 1)
    described = "PostgreSQL " + url.split("@")[-1]
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                admin.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = url
    except psycopg.Error as exc:
        described = f"SQLite (no PostgreSQL: {str(exc).splitlines()[0]})"
    redis_url = os.environ.get("PROFILE_REDIS_URL", "redis://127.0.0.1:6379/12")
    import redis

    try:
        redis.from_url(redis_url, socket_connect_timeout=2).ping()
        os.environ["REDIS_URL"] = redis_url
        cache = "Redis cache"
    except redis.RedisError:
        os.environ.pop("REDIS_URL", None)
        cache = "database cache (no Redis)"
    os.environ.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "profile-bench-secret-key-0123456789abcdef0123",
            "AI_INTERNAL_TOKENS": TOKEN,
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DJANGO_SETTINGS_MODULE": "sunusav.settings",
        }
    )
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = tempfile.mkdtemp(prefix="sunusav-profile-prometheus-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return f"{described}, {cache}"


def _quiet_console() -> None:
    # The request log is still formatted (its cost is part of the profile), but not printed.
    sink = open(os.devnull, "w")  # noqa: SIM115 (kept open for the process)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)


def _with_uuids(body: dict) -> dict:
    if "items" in body:
        return {"items": [{**item, "user_id": str(uuid.uuid4())} for item in body["items"]]}
    return {**body, "user_id": str(uuid.uuid4())}


def batch_endpoints() -> list[tuple[str, str, dict]]:
    """The 1,000-item batches the HTTP comparison sends (its generators, so both measure the same bodies)."""
    from benchmarks.bench_http_compare import credit_items, fraud_items

    return [
        ("POST /api/fraud/batch-check, 1,000 items", "/api/fraud/batch-check", {"items": fraud_items()}),
        ("POST /api/credit/batch-predict, 1,000 items", "/api/credit/batch-predict", {"items": credit_items()}),
    ]


def profile_endpoint(label: str, path: str, body: dict, *, n: int, warmup: int, top: int) -> dict:
    """Measure one endpoint: un-profiled timing and stages, round trips, then the cProfile breakdown."""
    call = wsgi_caller(path, json.dumps(body).encode(), TOKEN)
    statuses = Counter(call() for _ in range(warmup))
    if set(statuses) != {200}:
        raise RuntimeError(f"{label} answered {dict(statuses)} during warm-up")
    stage_log = StageLog()
    request_logger = logging.getLogger("sunusav.request")
    request_logger.addHandler(stage_log)
    try:
        timing = time_calls(call, n=n, warmup=0)
    finally:
        request_logger.removeHandler(stage_log)
    trips_n = min(200, n)
    with RoundTrips() as trips:
        for _ in range(trips_n):
            call()
    # The seed's user_id is no UUID, so no member is looked up; the backend sends members' UUIDs.
    as_member = wsgi_caller(path, json.dumps(_with_uuids(body)).encode(), TOKEN)
    with RoundTrips() as member_trips:
        for _ in range(trips_n):
            as_member()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats
    return {
        "label": label,
        "n": n,
        "p50": timing["p50"],
        "p99": timing["p99"],
        "stages_us": stage_log.medians(),
        "round_trips": trips.per_call(trips_n),
        "round_trips_uuid": member_trips.per_call(trips_n),
        **breakdown(stats, n, top=top),
    }


def round_trip_ms(n: int = 500) -> dict | None:
    """Time one PostgreSQL round trip (`SELECT 1` on the request's own connection): the unit of the writes' cost."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    raw = connection.connection
    return time_calls(lambda: raw.execute("SELECT 1").fetchone(), n=n, warmup=50)


def markdown(results: list[dict], *, title: str, context: dict) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"Measured {context['date']} by `python -m benchmarks profile --n {context['n']}"
        + (f" --batch {context['batch']}" if context.get("batch") else "")
        + "`: Django's WSGI handler "
        "in-process, called with a raw WSGI environ as gunicorn calls it, production settings (DEBUG off, "
        f"{context['database']}, Prometheus multiprocess mode, JSON request log formatted then discarded), "
        f"{context['n']:,} calls an endpoint under cProfile after {context['warmup']} warm-up calls. Load average "
        f"{context['load_start']} -> {context['load_end']} on {context['cpus']} cores (shared machine). cProfile "
        "slows every Python call: read the shares; the un-profiled times are given beside. Own time goes to a "
        "group by file; builtins and generic code (numpy, the standard library) go to their callers' groups. "
        "The request log's JSON counts as logging, the request's parsing as DRF parsing, the answer's encoding as "
        "JSON encoding.",
        "",
    ]
    if context.get("round_trip"):
        rtt = context["round_trip"]
        lines += [
            f"One PostgreSQL round trip (`SELECT 1`, same process and connection) took p50 {rtt['p50'] * 1000:.0f} µs, "
            f"p99 {rtt['p99'] * 1000:.0f} µs during this run.",
            "",
        ]
    for r in results:
        stages = ", ".join(f"{k.removesuffix('_us')} {v:.0f}" for k, v in r["stages_us"].items())
        trips = r["round_trips"]
        statements = ", ".join(f"{k} {v:g}" for k, v in trips["statements"].items())
        decision_us = sum(r["stages_us"].get(k, 0) for k in ("features", "model", "rules", "writes", "shadow"))
        lines += [
            f"### {r['label']}" + (f" ({r['n']} calls)" if r["n"] != context["n"] else ""),
            "",
            f"- un-profiled, in-process: p50 {r['p50']:.3f} ms, p99 {r['p99']:.3f} ms a call;",
            f"- the product's stage timer (median µs): {stages}; the decision itself (features + model + rules + "
            f"writes) {decision_us:.0f} µs, the rest framework;",
            f"- round trips a call (counted in psycopg): PostgreSQL {trips['postgres']:g} ({statements}), "
            f"Redis {trips['redis']:.3f} "
            f"(the throttle adds to Redis once every 1% of its limit); with a member's UUID as user_id "
            f"(unknown member) PostgreSQL {r['round_trips_uuid']['postgres']:g} "
            f"({', '.join(f'{k} {v:g}' for k, v in r['round_trips_uuid']['statements'].items())});",
            f"- profiled total {r['total_ms']:.3f} ms a call.",
            "",
            "| group | own ms/call | share | top cumulative entries (ms/call) | most own time (ms/call) |",
            "|---|---|---|---|---|",
        ]
        for row in r["rows"]:
            top = "; ".join(f"`{name}` {ms:.3f}" for ms, name in row["top"])
            heavy = "; ".join(f"`{name}` {ms:.3f}" for ms, name in row["own_top"])
            lines.append(f"| {row['group']} | {row['self_ms']:.3f} | {row['share']:.0%} | {top} | {heavy} |")
        spine = "; ".join(f"`{name}` {ms:.3f}" for ms, name in r["spine"])
        lines += ["", f"The request's spine (cumulative, left out of the groups' lists): {spine}.", ""]
    return lines


def _loadavg() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main(argv: list[str], *, setup) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks profile", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="profiled calls an endpoint (default 1000)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--top", type=int, default=4, help="cumulative entries listed a group")
    parser.add_argument(
        "--batch", type=int, default=0, metavar="N", help="also profile N calls of each 1,000-item batch endpoint"
    )
    parser.add_argument("--docs", metavar="TITLE", help='also put the breakdown into docs/PERFORMANCE.md as "## TITLE"')
    args = parser.parse_args(argv)
    database = _environment()
    setup()
    _quiet_console()
    load_start = _loadavg()
    results = [
        profile_endpoint(label, path, body, n=args.n, warmup=args.warmup, top=args.top)
        for label, path, body in ENDPOINTS
    ]
    results += [
        profile_endpoint(label, path, body, n=args.batch, warmup=3, top=args.top)
        for label, path, body in (batch_endpoints() if args.batch else [])
    ]
    context = {
        "round_trip": round_trip_ms(),
        "date": datetime.now().isoformat(timespec="seconds"),
        "n": args.n,
        "batch": args.batch,
        "warmup": args.warmup,
        "database": database,
        "load_start": load_start,
        "load_end": _loadavg(),
        "cpus": os.cpu_count(),
    }
    lines = markdown(results, title=args.docs or "Profile", context=context)
    print("\n".join(lines))
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.md").write_text("\n".join(lines) + "\n")
    (out / "profile.json").write_text(json.dumps({"context": context, "results": results}, indent=2) + "\n")
    print("wrote var/bench/profile.md and profile.json")
    if args.docs:
        heading, body = lines[0].removeprefix("## "), lines[1:]
        splice_sections(ROOT / "docs" / "PERFORMANCE.md", [(heading, body)], top=False)
        print(f"put '{heading}' into docs/PERFORMANCE.md")
    return 0
