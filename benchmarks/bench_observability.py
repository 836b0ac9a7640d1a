"""Hot-path cost of observability: metrics, the request id, stage marks, the request log line.

`python -m benchmarks observability`. Each figure is the cost per decision
request of what issue 10 adds to the hot path, in microseconds.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile

from benchmarks.common import Figure, time_calls

N = 20_000


def _us(figure: dict) -> dict:
    return {"p50": figure["p50"] * 1000, "p99": figure["p99"] * 1000, "throughput": figure["throughput"], "n": N}


def _figure(name: str, fn, goal_us: float, notes: str = "") -> Figure:
    timed = _us(time_calls(fn, n=N, warmup=500))
    return Figure(
        name=name,
        unit="us",
        p50=timed["p50"],
        p99=timed["p99"],
        throughput=timed["throughput"],
        n=N,
        goal=f"<= {goal_us:g} us",
        met=timed["p50"] <= goal_us,
        notes=notes,
    )


def _multiprocess_figure() -> Figure:
    # prometheus-client picks its value class at import, from PROMETHEUS_MULTIPROC_DIR: measure in a child.
    import subprocess
    import sys

    code = (
        "import time,statistics\n"
        "from prometheus_client import Counter, Histogram\n"
        "h=Histogram('h','h',['v','m','s']).labels('fraud:check','POST','200')\n"
        "c=Counter('c','c',['d']).labels('allow')\n"
        "s=[]\n"
        "for i in range(20000):\n"
        "    t=time.perf_counter_ns(); h.observe(0.0007); c.inc(); s.append(time.perf_counter_ns()-t)\n"
        "s.sort(); print(s[len(s)//2]/1000, s[int(len(s)*0.99)]/1000)\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    p50, p99 = float(out[0]), float(out[1])
    return Figure(
        name="obs: histogram observe + counter inc, multiprocess mode (mmap files)",
        unit="us",
        p50=p50,
        p99=p99,
        n=N,
        goal="<= 10 us",
        met=p50 <= 10,
        notes="what several gunicorn workers pay (PROMETHEUS_MULTIPROC_DIR set)",
    )


def run() -> list[Figure]:
    from fraud.detectors import CheckResult
    from sunusav import prometheus, timings
    from sunusav.logs import JsonFormatter, Redact, new_request_id, request_id_var, valid_request_id

    result = CheckResult(
        fraud_score=0.1, is_fraud=False, decision="allow", reasons=[], model_version="v", fallback=False
    )

    def metrics_per_request():
        prometheus.observe_request("fraud:check", "POST", 200, 0.0007)
        prometheus.count_fraud_decisions([result])

    def request_id_and_marks():
        rid = valid_request_id("5f0c3a9e-req-0001") or new_request_id()
        token = request_id_var.set(rid)
        timer = timings.start()
        for stage in ("validation", "features", "model", "rules", "writes"):
            timings.mark(stage)
        timings.snapshot()
        timings.stop(timer)
        request_id_var.reset(token)

    logger = logging.getLogger("bench.observability")
    logger.propagate = False
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redact())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    extra = {"view": "fraud:check", "method": "POST", "status": 200, "duration_us": 712, "caller": "service:abc"}

    def log_line():
        handler.stream.seek(0)
        logger.info("request", extra={**extra, "stages_us": {"validation": 120, "features": 20, "model": 30}})

    figures = [
        _figure(
            "obs: metrics per decision (latency histogram + decision counter)",
            metrics_per_request,
            5,
            "single process; children cached",
        ),
        _figure("obs: request id + five stage marks + snapshot", request_id_and_marks, 5),
        _figure("obs: one JSON request log line (format + redact filter)", log_line, 30, "one per request"),
    ]
    figures.append(_multiprocess_figure())
    return figures
