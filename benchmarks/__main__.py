"""Run the benchmarks: `python -m benchmarks [name ...]` (names: credit, fraud, ...)."""

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


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    _setup_django()
    names = argv or sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(ROOT / "benchmarks")])
        if m.name.startswith("bench_")
    )
    figures = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}", flush=True)
        for figure in module.run():
            figures.append(figure)
            print(
                f"  {figure.name}: p50={_fmt(figure.p50)} p99={_fmt(figure.p99)} {figure.unit}"
                f" throughput={_fmt(figure.throughput, 1)} {figure.throughput_unit}"
                f" value={_fmt(figure.value, 4)} errors={figure.errors} goal={figure.goal!r} met={figure.met}",
                flush=True,
            )
    report = {"machine": _machine(), "figures": [f.as_dict() for f in figures]}
    # Only a full run writes the committed report; a run of some benchmarks
    # writes beside it in var/bench/ so it never replaces the whole report.
    docs = ROOT / "docs" if not argv else ROOT / "var" / "bench"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "performance.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Performance report",
        "",
        "Written by `make bench`. Machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items()),
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
    (docs / "PERFORMANCE.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {docs.relative_to(ROOT)}/PERFORMANCE.md and performance.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
