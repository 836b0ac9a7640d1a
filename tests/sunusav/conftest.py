"""Core fixtures, and a record of every token the run configures, for the final log audit."""

import pytest
from django.test.signals import setting_changed

# Every AI_INTERNAL_TOKENS value any test sets (pytest-django's `settings`, override_settings):
# connected when this file is collected, before any test runs, so the audit knows them all.
_CONFIGURED_TOKENS: set[str] = set()


def _record_tokens(*, setting: str, value, **kwargs) -> None:
    if setting == "AI_INTERNAL_TOKENS" and value:
        _CONFIGURED_TOKENS.update(token for token in value if token)


setting_changed.connect(_record_tokens, dispatch_uid="tests.sunusav.conftest.record_tokens")


@pytest.fixture
def configured_tokens() -> set[str]:
    """Return every internal token configured so far in the run (settings and live servers)."""
    from django.conf import settings

    from tests.live_server import TOKEN

    _CONFIGURED_TOKENS.update({*settings.AI_INTERNAL_TOKENS, settings.DEV_INTERNAL_TOKEN, TOKEN})
    return _CONFIGURED_TOKENS  # the live set: tokens set later in the test join it
