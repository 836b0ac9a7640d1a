"""The hot path serves the published ruleset: v1 decides as today's lambdas; a publication reaches the checks."""

import time

import numpy as np
import pytest

from alerts.models import AIMetric
from fraud.detectors import combine_rows, combine_ruleset, score_rows
from fraud.features import FEATURES
from fraud.models_rules import RuleSet
from fraud.rules import DEFAULT_PARAMS
from fraud.rules_engine import compile_ruleset
from fraud.ruleset_services import (
    ruleset_approve,
    ruleset_draft_create,
    ruleset_publish,
    ruleset_rule_save,
    ruleset_submit,
)
from fraud.ruleset_serving import _Cache, serving_invalidate, serving_ruleset
from fraud.services import payment_check, transaction_check
from sunusav.models import Payment
from tests.factories import PaymentFactory
from tests.fraud.conftest import ORDINARY
from tests.fraud.test_rules_engine import random_payments

pytestmark = pytest.mark.django_db


def _v1():
    v1 = RuleSet.objects.get(number=1)
    return compile_ruleset([r.spec() for r in v1.rules.all()], version=v1.label)


@pytest.mark.parametrize("with_model", [False, True])
def test_ten_thousand_payments_decide_and_score_as_todays_lambdas(with_model, settings):
    settings.FRAUD_STRUCTURING_LIMIT_SATS = 100_000
    rows = random_payments(11, 10_000)
    matrix = np.array([[row[name] for name in FEATURES] for row in rows], dtype=np.float64)
    rng = np.random.default_rng(5)
    probability = rng.uniform(0, 0.9, len(rows)) if with_model else None
    isolation = rng.uniform(0.3, 0.8, len(rows)) if with_model else None
    ruleset = _v1()
    old_scores, old_reasons = combine_rows(matrix, rows, probability, isolation, DEFAULT_PARAMS)
    new_scores, new_reasons, outcomes, fired = combine_ruleset(matrix, rows, probability, isolation, ruleset)
    assert np.array_equal(old_scores, new_scores)  # the same floats, not just close ones
    assert new_reasons == old_reasons
    assert outcomes == [None] * len(rows)
    assert fired == [[r["id"] for r in reasons if r["kind"] == "rule"] for reasons in old_reasons]
    assert sum(map(bool, fired)) > 1_000  # the replay exercises the rules, not only ordinary payments
    # One payment at a time (the API's path: the engine's scalar form) gives the same answers.
    for i in range(0, len(rows), 97):
        p = None if probability is None else probability[i : i + 1]
        iso = None if isolation is None else isolation[i : i + 1]
        one_old, one_old_reasons = combine_rows(matrix[i : i + 1], rows[i : i + 1], p, iso, DEFAULT_PARAMS)
        one_new, one_new_reasons, _, _ = combine_ruleset(matrix[i : i + 1], rows[i : i + 1], p, iso, ruleset)
        assert one_old.tolist() == one_new.tolist() == [old_scores[i]]
        assert one_new_reasons == one_old_reasons


def test_a_check_names_the_ruleset_version_and_the_fired_rules(fraud_model):
    result = transaction_check(features={**ORDINARY, "invoices_last_min": 5})
    assert result.ruleset_version == "ruleset-v1"
    assert result.rules_fired == ["invoice_burst"]
    assert result.as_dict()["ruleset_version"] == "ruleset-v1"
    assert [r["id"] for r in result.reasons] == ["invoice_burst", "anomaly"]  # the answer's reasons, as before

    payment = PaymentFactory(status=Payment.Status.PENDING)
    checked = payment_check(
        payment=payment, features={**ORDINARY, "invoices_last_min": 5, "user_id": str(payment.member_id)}
    )
    assert checked.result.decision == "hold"
    meta = AIMetric.objects.get(metric_key="fraud_check", user=payment.member).meta
    assert meta["ruleset_version"] == "ruleset-v1" and meta["rules_fired"] == ["invoice_burst"]


def _publish_a_review_rule(django_capture_on_commit_callbacks, risk_admin_user, checker, expression):
    with django_capture_on_commit_callbacks(execute=True):
        draft = ruleset_draft_create(actor=risk_admin_user)
        ruleset_rule_save(
            actor=risk_admin_user,
            ruleset=draft,
            rule_id="vendor_allow",
            name_fr="Vendeuse du marché",
            reason_fr="Montant {amount_sats:.0f} sats : dérogation.",
            expression=expression,
            effect="allow",
            priority=1,
        )
        ruleset_rule_save(
            actor=risk_admin_user,
            ruleset=draft,
            rule_id="mid_amount_review",
            name_fr="Montant moyen",
            reason_fr="Montant moyen à revoir.",
            expression="amount_sats >= 20000 && amount_sats < 30000",
            effect="review",
            priority=2,
        )
        ruleset_submit(actor=risk_admin_user, ruleset=draft)
        ruleset_approve(actor=checker, ruleset=draft)
        ruleset_publish(actor=checker, ruleset=draft)
    return draft


def test_a_publication_reaches_the_checks_of_this_process_at_once(
    django_capture_on_commit_callbacks, risk_admin_user, checker
):
    base = {k: v for k, v in ORDINARY.items() if k != "user_id"}
    assert transaction_check(features={**base, "amount_sats": 25_000}).decision == "allow"
    _publish_a_review_rule(
        django_capture_on_commit_callbacks, risk_admin_user, checker, "amount_sats == 77777 && invoices_last_min >= 3"
    )
    review = transaction_check(features={**base, "amount_sats": 25_000})
    assert (review.decision, review.ruleset_version, review.rules_fired) == (
        "review",
        "ruleset-v2",
        ["mid_amount_review"],
    )
    assert review.reasons[0]["outcome"] == "review"
    # An allow override (first by priority) beats a hold by weight: the burst's score stays, the decision is allow.
    allowed = transaction_check(features={**base, "amount_sats": 77_777, "invoices_last_min": 5})
    assert allowed.decision == "allow" and allowed.fraud_score >= 0.9
    assert allowed.rules_fired == ["vendor_allow", "invoice_burst"]
    # Many rows (numpy) and one row (CEL) give the same decisions.
    rows = [{**base, "amount_sats": a, "invoices_last_min": k} for a in (25_000, 77_777, 12_000) for k in (0, 5)]
    assert [r.decision for r in score_rows(rows)] == [score_rows([row])[0].decision for row in rows]


def test_another_process_sees_a_publication_within_the_refresh_interval(
    settings, django_capture_on_commit_callbacks, risk_admin_user, checker
):
    other = _Cache()  # another worker's cache, which no on-commit hook reaches
    settings.ML_REGISTRY_REFRESH_SECONDS = 0.2
    assert other.get().version == "ruleset-v1"
    _publish_a_review_rule(django_capture_on_commit_callbacks, risk_admin_user, checker, "false")
    assert serving_ruleset().version == "ruleset-v2"
    assert other.get().version == "ruleset-v1"  # still within its interval
    time.sleep(0.25)
    assert other.get().version == "ruleset-v2"
    assert [r.id for r in other.get().rules][:2] == ["vendor_allow", "mid_amount_review"]


def test_without_a_published_version_the_builtin_v1_serves():
    RuleSet.objects.all().delete()
    serving_invalidate()
    ruleset = serving_ruleset()
    assert ruleset.version == "ruleset-v1" and len(ruleset.rules) == 6


def test_the_api_lists_the_published_rules(api_client, anon_client):
    assert anon_client.get("/api/fraud/rules").status_code in (401, 403)
    body = api_client.get("/api/fraud/rules").json()
    assert body["ruleset_version"] == "ruleset-v1" and body["number"] == 1
    assert [r["id"] for r in body["rules"]] == [
        "invoice_burst",
        "new_device_location_unusual_amount",
        "rapid_repeat",
        "structuring",
        "near_reporting_limit",
        "very_large_amount",
    ]
    assert body["rules"][0]["expression"] == "invoices_last_min >= 3" and body["rules"][0]["weight"] == 0.9
