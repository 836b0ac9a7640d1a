"""gunicorn settings for the SunuSàv web process, chosen by measurement (docs/OPERATIONS.md).

Every knob can be overridden from the environment (or on the command line,
which wins over this file), so one file serves the Docker image, `make stack`
and the benchmark:

    GUNICORN_BIND           default 0.0.0.0:8000 (127.0.0.1:8000 outside a container is up to the caller)
    WEB_CONCURRENCY         worker processes, default one per core
    GUNICORN_WORKER_CLASS   default sync
    GUNICORN_THREADS        threads per worker (gthread only), default 1
    GUNICORN_KEEPALIVE      seconds an idle keep-alive connection is kept (gthread only), default 5
    GUNICORN_TIMEOUT        seconds before a silent worker is killed and replaced, default 30

Why these defaults: measured on the 2-core machine with `POST /api/fraud/check`
(the seed's example body, its audit row committed to PostgreSQL, Redis cache),
`wrk` with 8 keep-alive clients on the same cores; tables in docs/OPERATIONS.md
("gunicorn: how the settings were chosen").

- Worker class `sync`. A request is 1.4-1.9 ms of CPU (measured) in Python
  under the GIL, plus one commit. `gthread` workers (2 or 4 threads) add a poller and a thread
  hand-off per request and their threads contend for one GIL: they matched
  sync on requests a second when the machine was quiet and did better when
  it was busy, but their p99 was 1.4 to 3.5 times worse in every run (62-103 ms
  against 29-44 ms at 8 clients on a busy machine; 23-35 ms against 16 ms on
  a quiet one), and the goal is a p99. Sync workers close the connection
  after each answer (no HTTP keep-alive); on the loopback or behind a load
  balancer on a private network a new TCP connection costs less than that.
- Workers: one per core (2 here). Quiet machine: 2 workers served 1,005
  requests/s at p99 16 ms, 3 workers 780 at 18 ms, 4 workers 742 at 24 ms,
  5 workers 595 at 28 ms (the load generator and PostgreSQL share the cores,
  so more processes only add context switches). Busy machine, interleaved
  runs: 2 and 3 workers tied (p99 29 ms), 4 were worse (33 ms), 5 worse still.
  On a web host that runs nothing else, try WEB_CONCURRENCY = cores + 1 and
  keep it if p99 holds (each worker is 160-250 MB resident with the models loaded).
- Keep-alive: 5 s (gunicorn's default is 2). It only matters for gthread (the
  sync worker does not keep connections); under load 2 s and 5 s measured the
  same, and 5 s outlives a load balancer's usual idle interval.
- No `preload_app`: the fraud model's onnxruntime session and the database
  connections must be opened in each worker, not inherited across fork.
- `worker_tmp_dir` in /dev/shm (when present): the heartbeat file each worker
  touches is then never on a slow or full disk (Docker's overlay).
- Prometheus multiprocess mode (issue 10): several workers share their
  counters through PROMETHEUS_MULTIPROC_DIR. It must be set before any worker
  starts: here, to a fresh private folder when unset, and emptied when the
  master starts (stale files from a previous deployment would add to the
  counters); `child_exit` marks a dead worker's gauges dead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _env_int("WEB_CONCURRENCY", os.cpu_count() or 1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = _env_int("GUNICORN_THREADS", 1)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 20)
backlog = 2048
preload_app = False
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
wsgi_app = "sunusav.wsgi:application"
# gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn):
# two servers on one machine (the stack beside a benchmark) would take each
# other's, and in the image $HOME is not writable. Signals (TERM, HUP, TTIN,
# TTOU) do all we need.
control_socket_disable = True

# Django logs each request as one JSON line (sunusav/middleware.py): no gunicorn
# access log beside it; gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Behind the TLS-terminating proxy: trust its X-Forwarded-* from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# --- Prometheus multiprocess mode -------------------------------------------------
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sunusav-prometheus-")


def on_starting(server):
    """Empty the multiprocess folder before the first worker starts (a new deployment counts from zero)."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server, worker):
    """A worker exited: its live gauges no longer count (prometheus-client multiprocess mode)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
