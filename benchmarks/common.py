"""Timing helpers, the figure record every benchmark returns, and the sections of docs/PERFORMANCE.md."""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    """One measured figure, beside the seed's target and its issue's goal."""

    name: str
    unit: str = "ms"
    p50: float | None = None
    p99: float | None = None
    throughput: float | None = None  # operations per second
    throughput_unit: str = "ops/s"
    n: int = 0
    errors: int = 0
    value: float | None = None  # for single-number figures (AUC, members/min ...)
    goal: str = ""
    seed_target: str = ""
    met: bool | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def time_calls(fn: Callable[[], object], *, n: int, warmup: int = 50) -> dict:
    """Call `fn` n times; return p50/p99 in milliseconds and calls per second."""
    for _ in range(warmup):
        fn()
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    elapsed = time.perf_counter() - started
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "throughput": n / elapsed,
        "n": n,
    }


def wsgi_caller(path: str, body: bytes, token: str):
    """Return a function that posts `body` to `path` through Django's WSGI handler; it returns the status."""
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "HTTP_X_INTERNAL_TOKEN": token,
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }

    def call() -> int:
        status = []
        response = handler({**base, "wsgi.input": io.BytesIO(body)}, lambda s, h, exc_info=None: status.append(s))
        b"".join(response)
        response.close()
        return int(status[0].split()[0])

    return call


# --- docs/PERFORMANCE.md: a preamble, then `## ` sections, the table of every figure last ----------------

FIGURES_HEADING = "All figures"


def split_sections(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Return (lines before the first `## ` heading, [(heading, its lines without the heading line)]).

    A table in the preamble (reports written before there were sections) becomes the figures section.
    """
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif sections:
            sections[-1][1].append(line)
        elif line.startswith("|") and not any(p.startswith("|") for p in preamble):
            sections.append((FIGURES_HEADING, ["", line]))
        else:
            preamble.append(line)
    return preamble, sections


def join_sections(preamble: list[str], sections: list[tuple[str, list[str]]]) -> str:
    """Return the Markdown text of a preamble and its sections."""
    lines = list(preamble)
    if lines and lines[-1].strip():
        lines.append("")
    for heading, body in sections:
        body = list(body)
        while body and not body[-1].strip():
            body.pop()
        lines += [f"## {heading}", *body, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def splice_sections(path: Path, new: list[tuple[str, list[str]]], *, top: bool = True) -> None:
    """Put `new` sections into the Markdown file at `path`, each in place of the one with its heading.

    A section not there yet goes first (`top`) or just before the figures section.
    """
    preamble, sections = split_sections(path.read_text()) if path.exists() else (["# Performance report", ""], [])
    fresh = []
    for heading, body in new:
        headings = [h for h, _ in sections]
        if heading in headings:
            sections[headings.index(heading)] = (heading, body)
        else:
            fresh.append((heading, body))
    if top:
        sections = fresh + sections
    else:
        headings = [h for h, _ in sections]
        at = headings.index(FIGURES_HEADING) if FIGURES_HEADING in headings else len(sections)
        sections = sections[:at] + fresh + sections[at:]
    path.write_text(join_sections(preamble, sections))


# --- Back-office benchmarks that measure on PostgreSQL from a `make bench` run on SQLite ----------


def page_figure(name: str, stats: dict, errors: int, notes: str, *, goal_ms: float) -> Figure:
    """A back-office page's figure: p50/p99 of its GETs, requests per second, met when p99 < goal."""
    return Figure(
        name=name,
        p50=stats["p50"],
        p99=stats["p99"],
        throughput=stats["throughput"],
        throughput_unit="req/s",
        n=stats["n"],
        errors=errors,
        goal=f"< {goal_ms:.0f} ms",
        met=errors == 0 and stats["p99"] < goal_ms,
        notes=notes,
    )


def pg_database_ensure(url: str) -> bool:
    """Create the PostgreSQL database `url` names when missing; False when the server is unreachable."""
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    name = url.rsplit("/", 1)[1]
    try:
        with psycopg.connect(admin, connect_timeout=5, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except psycopg.Error:
        return False


def run_on_postgresql(module: str, url: str, *, label: str) -> list[Figure] | None:
    """Run `benchmarks.<module>.run()` in a child process on the database `url` (None: no PostgreSQL)."""
    import json
    import os
    import subprocess

    if not pg_database_ensure(url):
        return None
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "VAR_DIR"}
    env.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="sunusav.settings", DEBUG="true")
    child = (
        "import json, sys; sys.path.insert(0, '.');"
        "from benchmarks.__main__ import _setup_django; _setup_django();"
        f"from benchmarks import {module};"
        f"print('FIGURES ' + json.dumps([f.as_dict() for f in {module}.run()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", child], cwd=root, env=env, capture_output=True, text=True, check=False, timeout=3600
    )
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("FIGURES "):
            return [Figure(**f) for f in json.loads(line.removeprefix("FIGURES "))]
    return [Figure(name=label, errors=1, notes=out.stderr[-300:])]
