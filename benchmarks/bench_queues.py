"""Queue throughput: 10,000 members enqueued as credit checks, scored by a real cluster on PostgreSQL.

Builds a demo world in a dedicated PostgreSQL database (`QUEUE_BENCH_PG`,
default `postgres://postgres@127.0.0.1:5432/sunusav_bench_queue`), enqueues
every member with `enqueue_batch_credit_check` (jobs of 25 members), starts
`manage.py qcluster` with 1 and then 2 workers on the ORM broker, and times
until every member of the run is scored. `QUEUE_BENCH_MEMBERS` changes the
size; 0 skips the benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from benchmarks.common import Figure

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("QUEUE_BENCH_PG", "postgres://postgres@127.0.0.1:5432/sunusav_bench_queue")
MEMBERS = int(os.environ.get("QUEUE_BENCH_MEMBERS", "10000"))


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"VAR_DIR", "REDIS_URL"}}
    return {**env, "DATABASE_URL": PG_URL, "DJANGO_SETTINGS_MODULE": "sunusav.settings", **extra}


def _manage(*args: str, **extra) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=_env(**extra), capture_output=True, text=True, check=True
    )
    return result.stdout


def _prepare() -> None:
    base, name = PG_URL.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    _manage("migrate", "--noinput", "-v0")
    _manage("createcachetable")
    _manage("models_sync")
    _manage("seed_demo", "--members", str(MEMBERS), "--seed", "5")


def _scored(run_id: str) -> int:
    with psycopg.connect(PG_URL) as conn:
        row = conn.execute(
            "SELECT count(*) FROM ai_metrics WHERE metric_key = 'credit_score' AND meta->>'run_id' = %s", [run_id]
        ).fetchone()
    return row[0]


def _run(workers: int) -> Figure:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("DELETE FROM django_q_ormq")
    code = (
        "from django.db import transaction; from sunusav.models import Member; "
        "from credit.tasks import enqueue_batch_credit_check\n"
        "with transaction.atomic():\n"
        "    print(enqueue_batch_credit_check(Member.objects.values_list('pk', flat=True), 'normal'))"
    )
    run_id = _manage("shell", "-c", code).strip().splitlines()[-1]
    log = open(ROOT / "var" / f"bench-qcluster-{workers}.log", "w")  # noqa: SIM115
    (ROOT / "var").mkdir(exist_ok=True)
    started = time.monotonic()
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=_env(Q_WORKERS=str(workers)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    errors = 0
    try:
        deadline = started + 900
        while (done := _scored(run_id)) < MEMBERS and time.monotonic() < deadline:
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        errors = MEMBERS - done
    finally:
        cluster.terminate()
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, 9)
        log.close()
    jobs = -(-MEMBERS // 25)
    per_minute = MEMBERS / elapsed * 60
    return Figure(
        name=f"queue: {MEMBERS} credit checks, PostgreSQL, ORM broker, {workers} worker(s)",
        unit="s",
        value=round(elapsed, 1),
        throughput=per_minute,
        throughput_unit="members/min",
        n=MEMBERS,
        errors=errors,
        goal="all scored",
        seed_target="1,000+ users/minute",
        met=errors == 0 and per_minute >= 1000,
        notes=f"{jobs} jobs of 25 = {jobs / elapsed * 60:.0f} jobs/min, cluster start-up included",
    )


def run() -> list[Figure]:
    if MEMBERS <= 0:
        return []
    _prepare()
    return [_run(1), _run(2)]
