"""HTTP figures under load: gunicorn (gunicorn.conf.py) on 127.0.0.1, `wrk` keep-alive clients, 1 and 8 at a time.

The server is the production one: gunicorn with the chosen config, DEBUG off,
one JSON log line per request (to a file), Prometheus multiprocess mode, every
decision's audit row committed to PostgreSQL. It runs against
`HTTP_BENCH_DATABASE_URL` (default: DATABASE_URL when it is PostgreSQL, else
postgres://postgres@127.0.0.1:5432/sunusav_bench_http, created when missing;
the harness's SQLite file when no PostgreSQL answers) with the Redis cache at
`HTTP_BENCH_REDIS_URL` (default redis://127.0.0.1:6379/13, when it answers).

Load: `wrk` (Debian package `wrk`; `apt-get install wrk`), one thread, N
keep-alive connections each sending its next request as soon as the previous
answers, for HTTP_BENCH_SECONDS (default 15) after a 3-second warm-up. wrk is
C and light; against the same server, locust's Python client (FastHttpUser)
drove 15-20 % fewer requests a second, its own CPU taken from the two cores
the server needs (docs/OPERATIONS.md). The client and the server share this
machine's cores, so the figures are a floor.

Knobs: HTTP_BENCH_SECONDS, HTTP_BENCH_CLIENTS (default "1,8"), and gunicorn's
(WEB_CONCURRENCY, GUNICORN_WORKER_CLASS, GUNICORN_THREADS, GUNICORN_KEEPALIVE).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.bench_credit import SEED_BODY as CREDIT_BODY
from benchmarks.bench_fraud import SEED_BODY as FRAUD_BODY
from benchmarks.common import Figure

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "http-bench-token-0123456789abcdef"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/sunusav_bench_http"

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Internal-Token"] = os.getenv("BENCH_TOKEN")
-- The body comes from a file: a batch of 1,000 items is past what one environment variable may hold.
local body_file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.body = body_file:read("*a")
body_file:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

ENDPOINTS = [
    # path, body, seed target (ms), goal at 8 clients
    ("/api/fraud/check", FRAUD_BODY, 50, "fraud"),
    ("/api/credit/predict", CREDIT_BODY, 100, "credit"),
]


def _database() -> tuple[str | None, str]:
    """Return (DATABASE_URL for the server, description); None means the harness's own database."""
    url = os.environ.get("HTTP_BENCH_DATABASE_URL")
    if not url and os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        url = os.environ["DATABASE_URL"]
    url = url or DEFAULT_PG
    import psycopg

    base, name = url.rsplit("/", 1)
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        return None, f"harness database (no PostgreSQL: {str(exc).splitlines()[0]})"
    return url, "PostgreSQL " + url.split("@")[-1]


def _redis() -> str | None:
    url = os.environ.get("HTTP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    if not url:
        return None
    import redis

    try:
        redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return None
    return url


def _server_env(database_url: str | None, redis_url: str | None, workdir: Path) -> dict:
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"}}
    if database_url is None:
        # The harness's database: the SQLite file (or PostgreSQL) benchmarks/__main__ migrated.
        from tests.jobs_support import database_url as harness_url

        database_url = harness_url()
    env.update(
        {
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "http-bench-secret-key-0123456789abcdef0123",
            "AI_INTERNAL_TOKENS": TOKEN,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "ML_ARTIFACTS_DIR": str(settings.ML_ARTIFACTS_DIR),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def _prepare(env: dict) -> None:
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput", "-v0"], ["createcachetable"], ["models_sync", "-v0"]):
        done = subprocess.run([*manage, *command], env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"manage.py {command[0]} failed: {done.stderr[-1500:]}")


def _start_gunicorn(env: dict, port: int, log: Path, app: str | None = None) -> subprocess.Popen:
    """Start gunicorn with gunicorn.conf.py on 127.0.0.1:port (`app` overrides its wsgi_app); wait for /health."""
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"]
    return _start_server([*command, *([app] if app else [])], env, port, log, "gunicorn")


def _start_server(command: list[str], env: dict, port: int, log: Path, what: str) -> subprocess.Popen:
    """Start a server process (its own session, output to `log`) and wait until GET /health answers 200."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    _stop(process)
    raise RuntimeError(f"{what} did not answer /health in 120 s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wrk(
    url: str, body: dict, clients: int, seconds: int, script: Path, token: str = TOKEN, timeout: str = "2s"
) -> dict:
    """Run wrk (one thread, `clients` connections) posting `body`; return its counts, latency percentiles and req/s."""
    body_file = script.with_name("body.json")
    body_file.write_text(json.dumps(body))
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_BODY_FILE": str(body_file)}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", timeout, "-s", str(script), url],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")
    result = json.loads(line.removeprefix("RESULT "))
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _config_label(env: dict) -> str:
    """The gunicorn settings in force (gunicorn.conf.py read with the server's environment)."""
    code = (
        "import runpy, json; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: c[k] for k in ('worker_class', 'workers', 'threads', 'keepalive')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    try:
        c = json.loads(out.stdout)
    except ValueError:
        return "gunicorn.conf.py"
    label = f"{c['worker_class']} x{c['workers']}"
    if c["worker_class"] == "gthread":
        label += f", {c['threads']} threads, keep-alive {c['keepalive']} s"
    return label


def run() -> list[Figure]:
    seconds = int(os.environ.get("HTTP_BENCH_SECONDS", "15"))
    clients_list = [int(c) for c in os.environ.get("HTTP_BENCH_CLIENTS", "1,8").split(",") if c.strip()]
    if not shutil.which("wrk"):
        return [
            Figure(
                name="HTTP under load (gunicorn + wrk)",
                errors=1,
                notes="not measured: the load generator wrk is not installed (apt-get install wrk)",
            )
        ]
    workdir = Path(tempfile.mkdtemp(prefix="sunusav-http-bench-"))
    database_url, database = _database()
    redis_url = _redis()
    env = _server_env(database_url, redis_url, workdir)
    _prepare(env)
    script = workdir / "post.lua"
    script.write_text(WRK_SCRIPT)
    from tests.live_server import free_port

    port = free_port()
    config = _config_label(env)
    # Prometheus multiprocess mode, as in production (gunicorn.conf.py empties the folder).
    env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "prometheus")
    server = _start_gunicorn(env, port, workdir / "gunicorn.log")
    figures = []
    try:
        for path, body, seed_ms, kind in ENDPOINTS:
            url = f"http://127.0.0.1:{port}{path}"
            _wrk(url, body, 8, 3, script)  # warm-up: models loaded, connections open in every worker
            for clients in clients_list:
                load_before = _loadavg()
                r = _wrk(url, body, clients, seconds, script)
                p50, p99 = r["p50_us"] / 1000, r["p99_us"] / 1000
                if kind == "fraud" and clients >= 8:
                    goal = ">= 1,000 req/s at p99 <= 20 ms, 0 errors (2 cores)"
                    met = r["rps"] >= 1000 and p99 <= 20 and r["errors"] == 0
                else:
                    goal = f"p99 < {seed_ms} ms (seed), 0 errors"
                    met = p99 < seed_ms and r["errors"] == 0
                figures.append(
                    Figure(
                        name=f"HTTP POST {path}, gunicorn {config}, wrk keep-alive, {clients} client(s)",
                        p50=p50,
                        p99=p99,
                        throughput=r["rps"],
                        throughput_unit="req/s",
                        n=r["requests"],
                        errors=r["errors"],
                        goal=goal,
                        seed_target=f"< {seed_ms} ms",
                        met=met,
                        notes=(
                            f"{seconds} s; max {r['max_us'] / 1000:.1f} ms; {database}, "
                            + ("sync workers close each connection (wrk reconnects); " if "sync" in config else "")
                            + f"cache {'Redis' if redis_url else 'database'}; audit row per request; "
                            f"client and server share {os.cpu_count()} cores; load average {load_before} "
                            f"-> {_loadavg()} (indicative on a shared machine)"
                        ),
                        extra={"wrk": r, "config": config},
                    )
                )
    finally:
        _stop(server)
        shutil.rmtree(workdir, ignore_errors=True)
    return figures
