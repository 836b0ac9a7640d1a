"""On a person's terminal (`make demo`) the logs are short lines, not JSON; servers keep JSON."""

import logging
import os
import subprocess
import sys
from pathlib import Path

from sunusav.logs import Redact, TerminalFormatter

ROOT = Path(__file__).resolve().parents[2]


def _record(msg, level=logging.INFO, **extra):
    record = logging.LogRecord("sunusav.request", level, __file__, 1, msg, (), None)
    record.__dict__.update(extra)
    return record


def test_a_request_line_reads_as_method_view_status_and_milliseconds():
    line = TerminalFormatter().format(
        _record("request", method="POST", view="fraud:check", status=200, duration_us=3069, stages_us={"model": 5})
    )
    assert line.endswith(" POST fraud:check 200 3.1 ms") and "{" not in line and "stages" not in line


def test_a_warning_says_so_and_a_job_names_its_function():
    assert " WARNING cache.down" in TerminalFormatter().format(_record("cache.down", logging.WARNING))
    job = TerminalFormatter().format(_record("job.end", func="credit.tasks.credit_check", queue="credit", success=True))
    assert job.endswith("job.end credit.tasks.credit_check credit True")


def test_the_redact_filter_still_runs_before_the_terminal_format(settings):
    settings.AI_INTERNAL_TOKENS = ["terminal-secret-token-0123456789"]
    record = _record("token terminal-secret-token-0123456789 seen", error="+221 77 123 45 67")
    Redact().filter(record)
    line = TerminalFormatter().format(record)
    assert "terminal-secret-token" not in line and "123 45 67" not in line


def _log_format(env_extra: dict, *, tty: bool) -> str:
    code = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','sunusav.settings'); django.setup();"
    code += "from django.conf import settings; print(settings.LOG_FORMAT)"
    env = {**os.environ, **env_extra}
    env.pop("LOG_FORMAT", None) if "LOG_FORMAT" not in env_extra else None
    if not tty:
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        return result.stdout.strip()
    # A real pseudo-terminal on stderr, as a person's shell gives it.
    import pty

    out_r, out_w = os.pipe()
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout to the pipe, stderr stays the pty
        os.dup2(out_w, 1)
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-c", code], env)
    os.close(out_w)
    output = b""
    while chunk := os.read(out_r, 1024):
        output += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return output.decode().strip().splitlines()[-1]


def test_terminal_on_a_tty_json_otherwise_and_the_variable_wins():
    assert _log_format({}, tty=False) == "json"
    assert _log_format({}, tty=True) == "terminal"
    assert _log_format({"LOG_FORMAT": "json"}, tty=True) == "json"
