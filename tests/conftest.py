"""Shared fixtures: API clients with and without the internal token, factories."""

import logging
import os

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from sunusav.logs import JsonFormatter
from tests import log_audit
from tests.redis_dbs import worker_redis_url

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def _isolated_registry(settings, tmp_path_factory):
    """Give each test a fresh model cache (models are loaded per process)."""
    from sunusav.ml.registry import registry

    registry.invalidate()
    yield
    registry.invalidate()


@pytest.fixture(autouse=True)
def _default_language():
    """Start every test in the site's default language (French).

    LocaleMiddleware activates a request's language in the thread and nothing
    deactivates it, so a test that asked for an English page would otherwise
    leave English behind for the next test on the same pytest-xdist worker.
    """
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def artifacts_dir(settings, tmp_path):
    """Point ML_ARTIFACTS_DIR at an empty folder for tests that write models."""
    settings.ML_ARTIFACTS_DIR = tmp_path / "ml_artifacts"
    settings.ML_ARTIFACTS_DIR.mkdir()
    return settings.ML_ARTIFACTS_DIR


@pytest.fixture
def api_client():
    """A DRF client that sends a valid X-Internal-Token."""
    client = APIClient()
    client.credentials(HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])
    return client


@pytest.fixture
def anon_client():
    """A DRF client with no token."""
    return APIClient()


def pytest_collection_modifyitems(session, config, items):
    """Keep the longest runs for CI."""
    if os.environ.get("CI") == "true" or os.environ.get("LONG") == "1":
        return
    # `make test` stays within minutes on a laptop: the end-to-end runs that kill clusters, start the
    # whole stack or restart Redis (~2 minutes together) run in CI (.ci/run sets CI=true) and with
    # LONG=1; their fast counterparts (redelivery in tests/sunusav/test_brokers.py, one worker job
    # in tests/e2e/test_workers.py, the ledger in tests/sunusav/test_jobs.py) always run.
    skip = pytest.mark.skip(reason="CI's long end-to-end run: CI=true make test (or LONG=1) runs it")
    for item in items:
        if item.get_closest_marker("ci_long"):
            item.add_marker(skip)


# --- Observability: the whole run's logs, audited for secrets once this process ran its last test ---
@pytest.fixture(scope="session", autouse=True)
def run_log_file(tmp_path_factory):
    """Write every log record of this process's tests, unredacted, to one file; fail the run on a leak.

    The audit (tests/log_audit.py) runs at the session's end, after the last
    test of this process, so under pytest-xdist every worker audits all it ran.
    """
    path = tmp_path_factory.getbasetemp() / "test-run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield path
    root.removeHandler(handler)
    handler.close()
    lines = path.read_text(encoding="utf-8").splitlines()  # the handler itself: test_observability.py
    problems = log_audit.log_problems(lines, log_audit.configured_tokens())
    if problems:
        pytest.fail(f"the run's logs leak a secret or hold a non-JSON line: {problems[:5]}")


TEST_REDIS_URL = worker_redis_url(TEST_REDIS_URL)


@pytest.fixture
def redis_url():
    """An emptied Redis database for broker tests; CI fails rather than skips without one."""
    client = redis.from_url(TEST_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {TEST_REDIS_URL} is required under CI=true")
        pytest.skip("Redis not reachable")
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()


@pytest.fixture
def risk_groups(db):
    """The "Risk analyst" and "Risk admin" groups, present even after a transactional test flushed them."""
    from django.contrib.auth.models import Group

    from sunusav.audit_trail import ADMIN_GROUP, ANALYST_GROUP, groups_ensure

    groups_ensure()
    return {"analyst": Group.objects.get(name=ANALYST_GROUP), "admin": Group.objects.get(name=ADMIN_GROUP)}


def _staff_in(group, username: str):
    from django.contrib.auth.models import User

    user = User.objects.create_user(username, password=f"pw-{username}-2026", is_staff=True)
    user.groups.add(group)
    return User.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def analyst_user(risk_groups):
    """A staff user in "Risk analyst" (password: pw-<username>-2026)."""
    return _staff_in(risk_groups["analyst"], "analyste")


@pytest.fixture
def risk_admin_user(risk_groups):
    """A staff user in "Risk admin" (password: pw-<username>-2026)."""
    return _staff_in(risk_groups["admin"], "admin-risques")


# The model fixtures, for every folder (the back-office and credit tests use both models).
from tests.credit.conftest import trained_model  # noqa: E402,F401
from tests.fraud.conftest import fraud_artifacts, fraud_model  # noqa: E402,F401
