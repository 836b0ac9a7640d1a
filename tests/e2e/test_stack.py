"""`make stack` / `make stack-stop` (scripts/stack.sh) against the local PostgreSQL and Redis.

The stack gets a database of its own (created and dropped here) and a Redis
database of its own (TEST_STACK_REDIS_URL, default 14; each xdist worker its own,
tests/redis_dbs.py), so it never touches the suite's broker tests. Without
PostgreSQL or Redis the test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.jobs_support import wait_for
from tests.live_server import free_port
from tests.redis_dbs import worker_redis_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
STACK_REDIS_URL = os.environ.get("TEST_STACK_REDIS_URL") or worker_redis_url(
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), offset=1
)
TOKEN = "stack-test-token-0123456789abcdef"
SERVICES = ("web", "credit", "fraud")


def _unreachable(what: str, exc: Exception):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true: {exc}")
    pytest.skip(f"{what} not reachable: {exc}")


def _pg_server_url() -> str:
    """The PostgreSQL server of the suite when it runs on one, else the local default (no database name)."""
    explicit = os.environ.get("TEST_STACK_PG_URL")
    if explicit:
        return explicit.rstrip("/")
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        user = s.get("USER") or "postgres"
        password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
        return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}"
    return "postgres://postgres@127.0.0.1:5432"


@pytest.fixture
def stack_database():
    """A fresh PostgreSQL database for the stack, dropped afterwards."""
    import psycopg

    server = _pg_server_url()
    name = f"sunusav_stack_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        _unreachable(f"PostgreSQL at {server}", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack_redis():
    """The stack's Redis database, emptied before and after."""
    import redis

    client = redis.from_url(STACK_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        _unreachable(f"Redis at {STACK_REDIS_URL}", exc)
    client.flushdb()
    yield STACK_REDIS_URL
    client.flushdb()


def _stack(command: str, env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/stack.sh", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _call(base: str, path: str, body: dict | None = None, token: str | None = TOKEN) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json", **({"X-Internal-Token": token} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stack_refuses_without_database_or_redis(tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    base["STACK_DIR"] = str(tmp_path)
    no_db = _stack("start", {**base, "REDIS_URL": STACK_REDIS_URL}, timeout=30)
    assert no_db.returncode != 0
    assert "DATABASE_URL is not set" in no_db.stderr
    no_redis = _stack("start", {**base, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"}, timeout=30)
    assert no_redis.returncode != 0
    assert "REDIS_URL is not set" in no_redis.stderr
    sqlite = _stack("start", {**base, "DATABASE_URL": "sqlite:///x.db", "REDIS_URL": "redis://h/0"}, timeout=30)
    assert sqlite.returncode != 0
    assert "PostgreSQL" in sqlite.stderr
    assert not list(tmp_path.glob("*.pid")), "nothing was started"


@pytest.mark.ci_long
def test_stack_serves_processes_jobs_through_redis_and_stops_clean(tmp_path, stack_database, stack_redis):
    import psycopg

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stack_dir = tmp_path / "stack"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("Q_", "PROMETHEUS_"))},
        "DATABASE_URL": stack_database,
        "REDIS_URL": stack_redis,
        "DEBUG": "false",
        "SECRET_KEY": "stack-test-secret-key-0123456789abcdef0123",
        "AI_INTERNAL_TOKENS": TOKEN,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "STACK_DIR": str(stack_dir),
        "STACK_BIND": f"127.0.0.1:{port}",
        "STACK_PYTHON": sys.executable,
        "WEB_CONCURRENCY": "2",
        "Q_CREDIT_WORKERS": "1",
        "Q_FRAUD_WORKERS": "1",
        "LOG_LEVEL": "WARNING",
    }
    # A small world in the stack's database (members in tontines) for the cycle-completed event.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=180
    )
    subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--members", "40", "--seed", "5"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )

    started = _stack("start", env)
    pids = {}
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "up: http://127.0.0.1" in started.stdout
        pids = {name: int((stack_dir / f"{name}.pid").read_text()) for name in SERVICES}
        assert all(_group_alive(pid) for pid in pids.values())
        again = _stack("start", env, timeout=60)
        assert again.returncode != 0 and "already running" in again.stderr

        status, health = _call(base, "/health", token=None)
        assert (status, health["status"]) == (200, "ok"), health

        status, fraud = _call(
            base,
            "/api/fraud/check",
            {
                "user_id": "test-user",
                "amount_sats": 1_000_000,
                "time_since_last_sec": 5,
                "invoices_last_min": 10,
                "device_changes": 3,
                "location_changes": 2,
            },
        )
        assert status == 200, fraud
        assert fraud["decision"] in {"review", "hold"} and not fraud["fallback"]

        status, credit = _call(
            base,
            "/api/credit/predict",
            {
                "user_id": "test-user",
                "tontine_contributions": 50000,
                "punctuality_rate": 0.9,
                "contributions_count": 10,
                "mobile_tx_volume": 100000,
                "avg_payment_delay_days": 1,
                "community_endorsements": 5,
            },
        )
        assert status == 200, credit
        assert credit["band"] and not credit["fallback"], credit

        assert _call(base, "/api/fraud/check", {"user_id": "x"}, token="wrong-token-0123456789abcdef")[0] == 401

        # A credit check per member, enqueued by the event, scored by the credit cluster via Redis.
        with psycopg.connect(stack_database, autocommit=True) as db:
            tontine_id, members = db.execute(
                "SELECT tontine_id, count(*) FROM tontine_memberships GROUP BY tontine_id ORDER BY 2 DESC LIMIT 1"
            ).fetchone()
            since = db.execute("SELECT now()").fetchone()[0]
            status, event = _call(base, "/api/events/cycle-completed", {"tontine_id": str(tontine_id)})
            assert status == 202, event
            assert event["enqueued"] == members > 0

            def scored():
                return db.execute(
                    "SELECT count(DISTINCT m.user_id) FROM ai_metrics m JOIN tontine_memberships t "
                    "ON t.member_id = m.user_id AND t.tontine_id = %s "
                    "WHERE m.metric_key = 'credit_score' AND m.created_at >= %s",
                    [tontine_id, since],
                ).fetchone()[0]

            wait_for(lambda: scored() >= members, timeout=90, message="the credit cluster to score the tontine")
            # Through the Redis broker: django-q2's ORM queue table was never used.
            assert db.execute("SELECT count(*) FROM django_q_ormq").fetchone()[0] == 0

            def done():
                # The cluster's monitor saves a task's result after the task wrote its score.
                return db.execute(
                    "SELECT count(*) FROM django_q_task WHERE func = 'credit.tasks.credit_check' AND success"
                ).fetchone()[0]

            wait_for(lambda: done() >= members, timeout=30, message="the credit tasks' results to be saved")
        status, stats = _call(base, "/api/queues/stats")
        assert status == 200 and stats["credit"]["failed"] == 0, stats
    finally:
        stopped = _stack("stop", env, timeout=120)
        for pid in pids.values():
            if _group_alive(pid):  # never leave a process behind, even when an assertion failed
                os.killpg(pid, signal.SIGKILL)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    for name in SERVICES:
        assert f"{name}: pid {pids[name]} stopped in" in stopped.stdout, stopped.stdout
    assert not list(stack_dir.glob("*.pid"))
    time.sleep(0.2)
    assert not [name for name, pid in pids.items() if _group_alive(pid)], "a process outlived stack.sh stop"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "/health", timeout=2)
