"""Shared fixtures: API clients with and without the internal token, factories."""

import os

import pytest
from django.conf import settings
from rest_framework.test import APIClient

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def _isolated_registry(settings, tmp_path_factory):
    """Give each test a fresh model cache (models are loaded per process)."""
    from sunusav.ml.registry import registry

    registry.invalidate()
    yield
    registry.invalidate()


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


# --- Observability: the whole run's logs, checked for secrets by the last test ------------
LOG_AUDIT_TEST = "test_logs_of_the_whole_run_hold_no_secrets"


def pytest_collection_modifyitems(session, config, items):
    """Run the log-content audit last, over everything the run logged; keep the longest runs for CI."""
    items.sort(key=lambda item: item.name == LOG_AUDIT_TEST)
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


@pytest.fixture(scope="session", autouse=True)
def run_log_file(tmp_path_factory):
    """Write every log record of the run, as JSON lines and unredacted, to one file."""
    import logging

    from sunusav.logs import JsonFormatter

    path = tmp_path_factory.getbasetemp() / "test-run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield path
    root.removeHandler(handler)
    handler.close()


@pytest.fixture
def redis_url():
    """An emptied Redis database for broker tests; CI fails rather than skips without one."""
    import redis

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
