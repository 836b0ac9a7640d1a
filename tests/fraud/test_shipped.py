"""The shipped default model: one version in ml_artifacts/fraud, served after `models_sync` on a fresh database."""

import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command

from fraud.selectors import fraud_health
from sunusav.ml.registry import artifact_verify, registry
from sunusav.models import ModelVersion
from tests.fraud.conftest import ORDINARY, SEED_EXAMPLE

pytestmark = pytest.mark.django_db

SHIPPED_ROOT = settings.BASE_DIR / "ml_artifacts"


def _shipped_versions():
    return sorted(p.name for p in (SHIPPED_ROOT / "fraud").iterdir() if (p / "manifest.json").is_file())


def test_exactly_one_fraud_version_is_shipped_with_its_holdout_figures():
    (version,) = _shipped_versions()
    card = json.loads((SHIPPED_ROOT / "fraud" / version / "manifest.json").read_text())
    metrics = card["metrics"]
    for key in ("precision", "recall", "fpr", "pr_auc", "detectable_ceiling", "per_pattern"):
        assert metrics[key] is not None, key
    assert card["structuring_limit_sats"] == settings.FRAUD_STRUCTURING_LIMIT_SATS
    assert card["model_input_params"]["since_clip_sec"] is not None


def test_fresh_database_models_sync_serves_the_shipped_model(settings, api_client):
    settings.ML_ARTIFACTS_DIR = SHIPPED_ROOT
    registry.invalidate()
    assert not ModelVersion.objects.filter(name="fraud").exists()
    call_command("models_sync", stdout=io.StringIO())
    (version,) = _shipped_versions()
    row = ModelVersion.objects.get(name="fraud", status=ModelVersion.Status.ACTIVE)
    assert row.version == version
    artifact_verify(name="fraud", version=version, expected_sha256=row.sha256)
    health = fraud_health()
    assert health["status"] == "ok" and health["model_version"] == version and health["serving"] == "onnx"

    held = api_client.post("/api/fraud/check", data=SEED_EXAMPLE, format="json").json()
    assert (held["decision"], held["fallback"], held["model_version"]) == ("hold", False, version)
    allowed = api_client.post("/api/fraud/check", data=ORDINARY, format="json").json()
    assert (allowed["decision"], allowed["fallback"]) == ("allow", False)
    registry.invalidate()


def test_rule_defaults_are_what_training_chose_for_the_shipped_model():
    from fraud.rules import DEFAULT_PARAMS

    (version,) = _shipped_versions()
    card = json.loads((SHIPPED_ROOT / "fraud" / version / "manifest.json").read_text())
    assert card["rule_params"].keys() == DEFAULT_PARAMS.keys()
    for name, value in card["rule_params"].items():
        assert DEFAULT_PARAMS[name] == pytest.approx(value, abs=1), name
