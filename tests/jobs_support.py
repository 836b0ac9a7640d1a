"""Jobs and a live django-q2 cluster for tests that need real workers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def record_run(label: str, sleep: float = 0.0) -> str:
    """A test job: wait, then leave an ai_metrics row naming itself."""
    from alerts.services import metric_record

    time.sleep(sleep)
    metric_record(member=None, key="test_job", value=time.time(), meta={"label": label})
    return label


def job_fail(label: str) -> str:
    """A test job that always fails."""
    raise RuntimeError(f"job {label} failed")


def database_url() -> str:
    """Return a DATABASE_URL for the database the test run is using."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


class LiveCluster:
    """A real `manage.py qcluster` process on the test database."""

    def __init__(self, *, name: str | None = None, env: dict | None = None):
        self.name = name
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    def start(self) -> LiveCluster:
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1", **self.env}
        if self.name:
            env["Q_CLUSTER_NAME"] = self.name
        (ROOT / "var").mkdir(exist_ok=True)
        self.log = open(ROOT / "var" / f"qcluster-test-{os.getpid()}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes the workers too
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole cluster (sentinel, pusher, workers, monitor)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # Only the sentinel gets SIGTERM: it stops its workers in order.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()


def wait_for(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition"):
    """Poll until predicate() is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class PrivateRedis:
    """A redis-server of the test's own on a free port, without persistence (no RDB, no AOF)."""

    def __init__(self, directory: Path):
        self.directory = directory
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> PrivateRedis:
        import redis

        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("redis-server is needed for this test")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: _pings(redis, self.url), timeout=10, interval=0.05, message="the private redis-server")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # e.g. refusing to exit while it writes its first AOF
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self) -> None:
        """Stop and start again on the same port: everything it held is gone, as after an unpersisted restart."""
        self.stop()
        self.start()


def _pings(redis, url: str) -> bool:
    try:
        return redis.from_url(url).ping()
    except redis.ConnectionError:
        return False
