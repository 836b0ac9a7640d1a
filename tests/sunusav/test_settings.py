"""Settings come from the environment; production refuses development secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _import_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "AI_INTERNAL_TOKENS", "DEBUG"}}
    clean.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','sunusav.settings'); django.setup()",
        ],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_run_with_no_environment():
    result = _import_settings({})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "false", "AI_INTERNAL_TOKENS": "t" * 32}, "SECRET_KEY"),
        ({"DEBUG": "false", "SECRET_KEY": "s" * 50}, "AI_INTERNAL_TOKENS"),
        ({"DEBUG": "false", "SECRET_KEY": "s" * 50, "AI_INTERNAL_TOKENS": "short"}, "AI_INTERNAL_TOKENS"),
    ],
)
def test_production_refuses_development_secrets(env, message):
    result = _import_settings(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_real_secrets():
    result = _import_settings(
        {"DEBUG": "false", "SECRET_KEY": "s" * 50, "AI_INTERNAL_TOKENS": "a" * 32 + "," + "b" * 32}
    )
    assert result.returncode == 0, result.stderr


def test_locale_and_time_zone(settings):
    assert settings.TIME_ZONE == "Africa/Dakar"
    assert settings.USE_TZ is True
    assert settings.LANGUAGE_CODE == "fr"
    assert {code for code, _ in settings.LANGUAGES} == {"fr", "en"}


def test_collectstatic_works(tmp_path, settings):
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "static" / "admin" / "css" / "base.css").is_file()
