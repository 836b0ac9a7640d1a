"""Run the benchmarks: `python -m benchmarks [name ...] [--docs]` (names: http_compare, credit, fraud, ...).

`make bench` runs them all, the comparison with the seed design and the
Django floor first, and writes docs/PERFORMANCE.md: that comparison's tables
first, the kept "Profile ..." sections next, then every figure. A run of some
benchmarks writes var/bench/ instead; with `--docs` it also puts its own
sections (those of benchmarks that render one) into docs/PERFORMANCE.md in
place of the ones with the same heading, leaving the rest of the file alone.

`python -m benchmarks profile [--n 1000] [--docs "Profile before"]`: cProfile of
the fraud check and credit predict in-process (benchmarks/profile_api.py).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from benchmarks.common import FIGURES_HEADING, join_sections, splice_sections, split_sections

ROOT = Path(__file__).resolve().parent.parent


def _setup_django() -> None:
    # Benchmarks never touch the developer's demo database: a fresh SQLite file
    # unless DATABASE_URL names another (PostgreSQL figures need it).
    if "DATABASE_URL" not in os.environ:
        os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="sunusav-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sunusav.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    call_command("models_sync", verbosity=0)


def _machine() -> dict:
    return {
        "date": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "database": os.environ.get("DATABASE_URL", "sqlite (fresh file)").split("@")[-1],
    }


def _fmt(value, digits=3):
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


# Run first, and their tables come first in the output and in docs/PERFORMANCE.md.
FIRST = ["http_compare"]
# Sections no `make bench` module writes (e.g. `profile --docs "Profile before"`): a full run keeps them.
KEPT_PREFIX = "Profile"


def _section(lines: list[str]) -> tuple[str, list[str]]:
    heading = lines[0].removeprefix("## ").strip() if lines and lines[0].startswith("## ") else "Benchmark"
    return heading, lines[1:] if lines and lines[0].startswith("## ") else lines


def _figures_table(figures) -> list[str]:
    lines = [
        "",
        "| figure | p50 | p99 | unit | throughput | value | errors | goal (issue) | seed target | met | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        thr = f"{_fmt(f.throughput, 1)} {f.throughput_unit}" if f.throughput is not None else ""
        lines.append(
            f"| {f.name} | {_fmt(f.p50)} | {_fmt(f.p99)} | {f.unit} | {thr} | {_fmt(f.value, 4)} | {f.errors} "
            f"| {f.goal} | {f.seed_target} | {'yes' if f.met else 'no' if f.met is False else ''} | {f.notes} |"
        )
    return [*lines, ""]


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    if argv[:1] == ["profile"]:
        from benchmarks import profile_api

        return profile_api.main(argv[1:], setup=_setup_django)
    to_docs = "--docs" in argv
    argv = [a for a in argv if a != "--docs"]
    _setup_django()
    available = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(ROOT / "benchmarks")])
        if m.name.startswith("bench_")
    )
    names = argv or [n for n in FIRST if n in available] + [n for n in available if n not in FIRST]
    figures = []
    sections: list[tuple[str, list[str]]] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}", flush=True)
        own = []
        render = getattr(module, "markdown", None)
        for figure in module.run():
            own.append(figure)
            if render is None:
                print(
                    f"  {figure.name}: p50={_fmt(figure.p50)} p99={_fmt(figure.p99)} {figure.unit}"
                    f" throughput={_fmt(figure.throughput, 1)} {figure.throughput_unit}"
                    f" value={_fmt(figure.value, 4)} errors={figure.errors} goal={figure.goal!r} met={figure.met}",
                    flush=True,
                )
        if render is not None:
            lines = render(own)
            print("\n".join(lines), flush=True)
            sections.append(_section(lines))
        figures += own
    report = {"machine": _machine(), "figures": [f.as_dict() for f in figures]}
    # Only a full run writes the committed report; a run of some benchmarks
    # writes beside it in var/bench/ so it never replaces the whole report.
    docs = ROOT / "docs" if not argv else ROOT / "var" / "bench"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "performance.json").write_text(json.dumps(report, indent=2) + "\n")
    preamble = [
        "# Performance report",
        "",
        "Written by `make bench`. Machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items()),
        "",
    ]
    kept = []
    if not argv and (docs / "PERFORMANCE.md").exists():
        _, old = split_sections((docs / "PERFORMANCE.md").read_text())
        kept = [(h, body) for h, body in old if h.startswith(KEPT_PREFIX)]
    all_sections = [*sections, *kept, (FIGURES_HEADING, _figures_table(figures))]
    (docs / "PERFORMANCE.md").write_text(join_sections(preamble, all_sections))
    print(f"wrote {docs.relative_to(ROOT)}/PERFORMANCE.md and performance.json")
    if argv and to_docs and sections:
        splice_sections(ROOT / "docs" / "PERFORMANCE.md", sections)
        print(f"put {', '.join(repr(h) for h, _ in sections)} into docs/PERFORMANCE.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
