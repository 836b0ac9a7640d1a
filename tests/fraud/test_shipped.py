"""The shipped default model: one version in ml_artifacts/fraud, served after `models_sync` on a fresh database."""

import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command

from fraud.models_rules import RuleSet
from fraud.rules import DEFAULT_PARAMS
from fraud.rules_engine import compile_ruleset
from fraud.selectors import fraud_health
from fraud.supervised import learned_rules
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


def test_the_shipped_model_serves_its_supervised_layer_learned_from_ruleset_v1():
    """The shipped card's layer learned from the rules a fresh database publishes (ruleset v1, a migration).

    The layer keeps the weights of the rules it learned from out of the
    product (same id, same canonical expression): had it learned from other
    rules, a fresh install would count them twice, or not at all.
    """
    (version,) = _shipped_versions()
    card = json.loads((SHIPPED_ROOT / "fraud" / version / "manifest.json").read_text())
    layers = card["layers"]
    assert layers["serving"] == "supervised", layers["why"]
    assert "supervised.txt" in card["files"]
    v1 = RuleSet.objects.get(number=1, status="published")
    published = compile_ruleset([r.spec() for r in v1.rules.all()], version=v1.label)
    assert layers["supervised"]["learned_from"] == published.version
    assert layers["supervised"]["learned_rules"] == {r.id: r.cel_source for r in learned_rules(published)}
    # v1 is today's six rules with fraud.rules.DEFAULT_PARAMS; the card records what the anomaly layer's
    # own tuning chose, which serves only beside no supervised layer.
    assert card["rule_params"].keys() == DEFAULT_PARAMS.keys()
    # Both layers were measured on the same held-out members, and the one that serves is the card's headline.
    for layer in ("anomaly_rules", "supervised"):
        assert {"precision", "recall", "pr_auc"} <= set(layers[layer]["test"])
    assert card["metrics"]["pr_auc"] == layers["supervised"]["test"]["pr_auc"]
    assert set(card["metrics"]["by_segment_and_typology"]["by_segment"]) >= {"vendor", "collector", "ordinary"}
