"""Core fixtures."""

import pytest

from tests import log_audit


@pytest.fixture
def configured_tokens() -> set[str]:
    """Return every internal token configured so far in the run (the live set: later ones join it)."""
    return log_audit.configured_tokens()
