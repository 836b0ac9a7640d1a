"""The run's log audit: no configured token, no unmasked secret query value, no phone-like string.

Every log record of the run is written, unredacted, to one JSON-lines file per
test process (`run_log_file` in tests/conftest.py); when a process has run its
last test the file is read back and any leak fails the run. Under pytest-xdist
each worker audits its own file, so the audit covers every test whichever
worker ran it.
"""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.test.signals import setting_changed

from sunusav.logs import PHONE_RE
from tests.live_server import TOKEN

# Every AI_INTERNAL_TOKENS value any test sets (pytest-django's `settings`, override_settings):
# connected when the root conftest imports this module, before any test runs.
CONFIGURED_TOKENS: set[str] = set()

# A secret-named query value that was not masked (the filter writes "[secret]" or "[token]").
UNMASKED_SECRET_PARAM = re.compile(r"(?i)(?:token|secret|password)=(?!\[(?:secret|token)\])[^&\s'\"<>;#\\]+")


def _record_tokens(*, setting: str, value, **kwargs) -> None:
    if setting == "AI_INTERNAL_TOKENS" and value:
        CONFIGURED_TOKENS.update(token for token in value if token)


setting_changed.connect(_record_tokens, dispatch_uid="tests.log_audit.record_tokens")


def configured_tokens() -> set[str]:
    """Every internal token configured so far in this process (settings and live servers)."""
    CONFIGURED_TOKENS.update({*settings.AI_INTERNAL_TOKENS, settings.DEV_INTERNAL_TOKEN, TOKEN})
    return CONFIGURED_TOKENS


def log_problems(lines: list[str], secrets: set[str]) -> list[str]:
    """The lines that leak a secret or a phone, then those that are not one JSON object."""
    secrets = {s for s in secrets if len(s) >= 8}
    leaks = [
        line
        for line in lines
        if any(s in line for s in secrets) or PHONE_RE.search(line) or UNMASKED_SECRET_PARAM.search(line)
    ]
    not_json = []
    for line in lines:
        try:
            if not isinstance(json.loads(line), dict):
                not_json.append(line)
        except ValueError:
            not_json.append(line)
    return leaks + not_json
