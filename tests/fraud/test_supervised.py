"""The fraud model's supervised layer: trained only with enough labels, chosen on validation, served as trained."""

import numpy as np
import pytest
from rest_framework.test import APIClient

from fraud.detectors import MODEL_NAME, combine_served, model_inputs
from fraud.member_context import CONTEXT, member_context_at, unknown_context
from fraud.rules import structuring_limit
from fraud.rules_engine import compile_ruleset, default_rule_specs
from fraud.ruleset_serving import serving_ruleset
from fraud.supervised import (
    SUPERVISED_CONTEXT,
    input_names,
    learned_rules,
    rule_hits,
    supervised_fit,
    supervised_inputs,
)
from fraud.training import fraud_model_train
from sunusav.ml.registry import artifact_verify, registry
from sunusav.models import Member, ModelVersion
from tests.factories import PaymentFactory
from tests.fraud.synthetic import synthetic_world

pytestmark = pytest.mark.django_db

BURST = {
    "amount_sats": 4_000.0,
    "time_since_last_sec": 40.0,
    "invoices_last_min": 6.0,
    "device_changes": 0.0,
    "location_changes": 0.0,
}


def test_too_few_labels_keep_the_anomaly_and_rules_and_the_card_says_why(artifacts_dir, settings):
    settings.FRAUD_SUPERVISED_MIN_FRAUD = 10_000
    synthetic_world(members=60, seed=3, fraud_members=16)
    result = fraud_model_train(n_estimators=30)
    layers = result.manifest["layers"]
    assert layers["serving"] == "anomaly_rules"
    assert "not enough labels" in layers["why"] and "FRAUD_SUPERVISED_MIN_FRAUD" in layers["why"]
    assert layers["supervised"]["minimum"] == {"fraud": 10_000, "honest": 100_000}
    assert "supervised.txt" not in result.manifest["files"]
    assert registry.get_active(MODEL_NAME).model.supervised is None


def test_with_enough_labels_it_is_trained_chosen_on_validation_and_served(artifacts_dir, settings):
    settings.FRAUD_SUPERVISED_MIN_FRAUD = 20
    synthetic_world(members=120, seed=4, fraud_members=40)
    result = fraud_model_train(n_estimators=40, activate=True)
    card = artifact_verify(name=MODEL_NAME, version=result.version, expected_sha256=result.model_version.sha256)
    layers = card["layers"]
    supervised = layers["supervised"]
    assert supervised["labels"]["fraud"] >= 20 and supervised["labels"]["honest"] >= 200
    # It learned from the published rules (v1's six), by id and canonical expression.
    published = serving_ruleset()
    assert supervised["learned_from"] == published.version
    assert supervised["learned_rules"] == {rule.id: rule.cel_source for rule in published.rules}
    # ...and from each member's own baseline (fraud.member_context), which the labelled history gives.
    assert supervised["inputs"] == input_names([rule.id for rule in learned_rules(published)], SUPERVISED_CONTEXT)
    # Both layers are measured on the same test half; the choice is made on validation only.
    for layer in ("anomaly_rules", "supervised"):
        assert set(layers[layer]["test"]) >= {"precision", "recall", "pr_auc", "fpr"}
    beats = supervised["validation_pr_auc"] > layers["anomaly_rules"]["validation_pr_auc"]
    assert layers["serving"] == ("supervised" if beats else "anomaly_rules")
    assert layers["serving"] == "supervised", layers["why"]  # seeded: on this world it wins
    assert card["metrics"]["pr_auc"] == layers["supervised"]["test"]["pr_auc"]
    assert "supervised.txt" in card["files"]

    loaded = registry.get_active(MODEL_NAME)
    assert loaded.version == result.version and loaded.model.supervised is not None
    client = APIClient()
    client.credentials(HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])
    answer = client.post("/api/fraud/check", {"user_id": "u-1", **BURST}, format="json").json()
    reasons = {reason["id"]: reason for reason in answer["reasons"]}
    # "u-1" is no stored member: the layer read the population defaults, and the answer says so.
    assert answer["member_context"] == "population_defaults"
    # The burst rule fired and is named, but its weight is inside the layer's probability.
    assert reasons["invoice_burst"]["weight"] == 0.0
    layer = loaded.model.supervised
    features = np.array([[BURST[name] for name in supervised["inputs"][:5]]])
    isolation, _ = loaded.model.anomaly(features)
    hits = rule_hits(learned_rules(published), features, structuring_limit())
    expected = layer.probability(
        supervised_inputs(model_inputs(features, loaded.model.since_clip_sec), isolation, hits, unknown_context())
    )
    assert answer["fraud_score"] == pytest.approx(round(float(expected[0]), 6), abs=1e-6)
    assert reasons["supervised"]["weight"] == pytest.approx(answer["fraud_score"], abs=1e-6)
    assert "anomaly" not in reasons
    assert ModelVersion.objects.get(name="fraud", status="active").version == result.version

    # A stored member's check reads their own baseline (one aggregate query), and says so.
    member = Member.objects.order_by("display_name").first()
    known = client.post("/api/fraud/check", {"user_id": str(member.pk), **BURST}, format="json").json()
    assert known["member_context"] == "member_history"
    # A stored payment is checked against the member's history strictly before it, with its device and place.
    payment = PaymentFactory(member=member, amount_sats=4_000, kind="invoice", device_id="dev-0", location="loc-0")
    stored = client.post(
        "/api/fraud/check", {"user_id": str(member.pk), "payment_id": str(payment.pk), **BURST}, format="json"
    ).json()
    assert stored["member_context"] == "member_history"
    baseline = member_context_at(
        member_id=member.pk,
        at=payment.created_at,
        amount_sats=4_000.0,
        device="dev-0",
        location="loc-0",
        exclude=payment.pk,
    )
    assert baseline[CONTEXT.index("device_seen_days")] > 0  # dev-0 is this member's usual phone
    hits = rule_hits(learned_rules(published), features, structuring_limit())
    expected = layer.probability(
        supervised_inputs(model_inputs(features, loaded.model.since_clip_sec), isolation, hits, baseline[None, :])
    )
    assert stored["fraud_score"] == pytest.approx(round(float(expected[0]), 6), abs=1e-6)


def _layer(seed=0):
    """A small booster fitted on made-up rows where the burst rule is honest and large amounts are fraud."""
    rng = np.random.default_rng(seed)
    n = 4_000
    features = np.column_stack(
        [
            rng.lognormal(8, 1.2, n),
            rng.exponential(3_600, n),
            rng.integers(0, 8, n).astype(float),
            rng.integers(0, 2, n).astype(float),
            rng.integers(0, 2, n).astype(float),
        ]
    )
    labels = (features[:, 0] > 20_000).astype(float)
    ruleset = compile_ruleset(default_rule_specs(), version="v-test")
    rules = learned_rules(ruleset)
    isolation = rng.random(n)
    inputs = supervised_inputs(model_inputs(features), isolation, rule_hits(rules, features, 100_000))
    half = n // 2
    fit = supervised_fit(
        train_x=inputs[:half],
        train_y=labels[:half],
        val_x=inputs[half:],
        val_y=labels[half:],
        names=input_names([r.id for r in rules]),
        learned={r.id: r.cel_source for r in rules},
    )
    return fit, ruleset


class _Model:
    since_clip_sec = None

    def __init__(self, layer):
        self.supervised = layer


def test_a_rule_written_after_training_still_adds_its_weight_and_outcome_rules_still_decide():
    layer, trained_on = _layer()
    model = _Model(layer)
    matrix = np.array([[BURST[k] for k in BURST]])
    isolation, probability = np.array([0.4]), np.array([0.1])
    rows = [{"user_id": "u", **BURST}]
    base, reasons, outcomes, fired = combine_served(matrix, rows, probability, isolation, trained_on, model=model)
    assert "invoice_burst" in fired[0] and outcomes == [None]
    assert [r["id"] for r in reasons[0]][-1] == "supervised"

    specs = default_rule_specs()
    # The team changes the burst rule (same id, new expression) and adds one with a weight, one with an outcome.
    for spec in specs:
        if spec["rule_id"] == "invoice_burst":
            spec["expression"] = "invoices_last_min >= 5"
    specs.append({**specs[0], "rule_id": "petit_montant", "expression": "amount_sats < 5000", "weight": 0.5})
    changed = compile_ruleset(specs, version="v-team")
    scores, reasons, _, fired = combine_served(matrix, rows, probability, isolation, changed, model=model)
    by_id = {r["id"]: r for r in reasons[0]}
    assert {"invoice_burst", "petit_montant"} <= set(fired[0])
    # Neither is a rule the layer learned: both weights multiply the layer's probability, which no longer
    # sees the burst rule's hit (its column is 0: the rule it learned is gone).
    burst_weight = by_id["invoice_burst"]["weight"]
    assert burst_weight > 0 and by_id["petit_montant"]["weight"] == 0.5
    p = by_id["supervised"]["weight"]
    assert scores[0] == pytest.approx(1 - (1 - p) * (1 - burst_weight) * 0.5, abs=1e-6)

    specs.append({**specs[0], "rule_id": "liste_blanche", "expression": "amount_sats > 0", "effect": "allow"})
    allowed = compile_ruleset(specs, version="v-allow")
    _, _, outcomes, _ = combine_served(matrix, rows, probability, isolation, allowed, model=model)
    assert outcomes == ["allow"]


def test_without_a_layer_the_served_score_is_todays_noisy_or():
    ruleset = compile_ruleset(default_rule_specs(), version="v-test")
    matrix = np.array([[BURST[k] for k in BURST]])
    probability, isolation = np.array([0.1]), np.array([0.4])
    served = combine_served(matrix, None, probability, isolation, ruleset, model=None)[0]
    weights = [r.weight for r in ruleset.rules if r.id == "invoice_burst"]
    assert served[0] == pytest.approx(1 - 0.9 * (1 - weights[0]))
