"""Shared fixtures: API clients with and without the internal token, factories."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient


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
