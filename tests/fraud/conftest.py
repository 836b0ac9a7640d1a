"""Fraud fixtures: one small model trained per session on synthetic features, registered per test."""

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User

from fraud.ruleset_serving import serving_invalidate
from fraud.training import fraud_artifact_write, fraud_model_fit

SEED_EXAMPLE = {
    "user_id": "test-user",
    "amount_sats": 1_000_000,
    "time_since_last_sec": 5,
    "invoices_last_min": 10,
    "device_changes": 3,
    "location_changes": 2,
}
ORDINARY = {
    "user_id": "test-user",
    "amount_sats": 12_000,
    "time_since_last_sec": 86_400,
    "invoices_last_min": 0,
    "device_changes": 0,
    "location_changes": 0,
}


def synthetic_features(seed: int = 0, normal: int = 6000, fraud: int = 300):
    """Return (features, labels, member ids) of normal traffic and seed-like fraud."""
    rng = np.random.default_rng(seed)
    x_normal = np.column_stack(
        [
            rng.lognormal(9.5, 0.6, normal).round() + 100,
            np.minimum(rng.exponential(72_000, normal) + 120, 2_592_000),
            rng.binomial(1, 0.05, normal),
            rng.binomial(1, 0.02, normal),
            rng.binomial(1, 0.02, normal),
        ]
    )
    x_fraud = np.column_stack(
        [
            rng.integers(300_000, 2_000_000, fraud),
            rng.uniform(1, 30, fraud),
            rng.integers(3, 12, fraud),
            rng.integers(1, 4, fraud),
            rng.integers(1, 3, fraud),
        ]
    )
    features = np.vstack([x_normal, x_fraud]).astype(np.float64)
    labels = np.r_[np.zeros(normal), np.ones(fraud)]
    members = np.array([f"m{i % 400}" for i in range(normal + fraud)], dtype=object)
    return features, labels, members


@pytest.fixture(scope="session")
def fraud_artifacts(tmp_path_factory):
    """Train one small model for the session; return (artifacts root, manifest, sklearn forest)."""
    root = tmp_path_factory.mktemp("fraud_artifacts")
    features, labels, members = synthetic_features()
    trained = fraud_model_fit(features=features, labels=labels, member_ids=members, n_estimators=60, compare=False)
    previous = django_settings.ML_ARTIFACTS_DIR
    django_settings.ML_ARTIFACTS_DIR = root
    try:
        manifest = fraud_artifact_write(trained=trained, params={"n_estimators": 60})
    finally:
        django_settings.ML_ARTIFACTS_DIR = previous
    return root, manifest, trained.forest


@pytest.fixture
def fraud_model(settings, db, fraud_artifacts):
    """Serve the session's model as the active `fraud` version."""
    from sunusav.ml.lifecycle import model_version_register
    from sunusav.ml.registry import registry

    root, manifest, _ = fraud_artifacts
    settings.ML_ARTIFACTS_DIR = root
    row = model_version_register(manifest=manifest, activate=True, activated_by="test")
    registry.invalidate()
    return row


@pytest.fixture(autouse=True)
def ruleset_cache_fresh():
    """Every fraud test starts from the published ruleset in the database, and leaves no publication cached."""
    serving_invalidate()
    yield
    serving_invalidate()


@pytest.fixture
def checker(risk_groups):
    """A second risk admin: the checker of four eyes (the maker is `risk_admin_user`)."""
    user = User.objects.create_user("checker", password="pw-checker-2026", is_staff=True)
    user.groups.add(risk_groups["admin"])
    return User.objects.get(pk=user.pk)
