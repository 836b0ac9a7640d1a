"""A submitted version in shadow: its would-be decisions go into the checks' audit rows, never served."""

import pytest
from django.test import Client
from django.urls import reverse

from alerts.models import AIMetric
from fraud.ruleset_selectors import ruleset_shadow_comparison
from fraud.ruleset_services import (
    RulesetWrongState,
    ruleset_approve,
    ruleset_draft_create,
    ruleset_publish,
    ruleset_rule_save,
    ruleset_shadow_set,
    ruleset_submit,
)
from fraud.ruleset_serving import serving_rulesets
from fraud.services import payment_check
from sunusav.models import AnalystAction, Payment
from tests.factories import PaymentFactory
from tests.fraud.conftest import ORDINARY

pytestmark = pytest.mark.django_db


def _submitted(actor):
    draft = ruleset_draft_create(actor=actor)
    ruleset_rule_save(
        actor=actor,
        ruleset=draft,
        rule_id="mid_amount",
        name_fr="Montant moyen",
        expression="amount_sats >= 10000 && amount_sats < 20000",
        effect="hold",
        priority=1,
    )
    ruleset_submit(actor=actor, ruleset=draft)
    return draft


def _check():
    payment = PaymentFactory(status=Payment.Status.PENDING)
    checked = payment_check(payment=payment, features={**ORDINARY, "user_id": str(payment.member_id)})
    return checked, AIMetric.objects.get(metric_key="fraud_check", user=payment.member).meta


def test_a_version_in_shadow_is_recorded_beside_the_real_decision_and_never_served(
    risk_admin_user, checker, django_capture_on_commit_callbacks
):
    draft = _submitted(risk_admin_user)
    with pytest.raises(RulesetWrongState):
        ruleset_shadow_set(actor=risk_admin_user, ruleset=ruleset_draft_create(actor=risk_admin_user), on=True)
    with django_capture_on_commit_callbacks(execute=True):
        ruleset_shadow_set(actor=risk_admin_user, ruleset=draft, on=True)
    published, shadow = serving_rulesets()
    assert (published.version, shadow.version) == ("ruleset-v1", "ruleset-v2")

    checked, meta = _check()
    assert checked.result.decision == "allow" and checked.payment.status != Payment.Status.HELD
    assert meta["ruleset_version"] == "ruleset-v1"
    assert meta["ruleset_shadow"] == {
        "ruleset_version": "ruleset-v2",
        "fraud_score": 0.0,
        "decision": "hold",
        "rules_fired": ["mid_amount"],
    }
    comparison = ruleset_shadow_comparison(draft)
    assert comparison["checks"] == 1 and comparison["agree"] == 0
    assert comparison["confusion"] == [{"real": "allow", "shadow": "hold", "count": 1}]
    assert AnalystAction.objects.filter(action="ruleset_shadow").count() == 1

    client = Client()
    client.force_login(risk_admin_user)
    html = client.get(reverse("admin:fraud_ruleset_change", args=[draft.pk])).content.decode()
    assert 'data-shadow="on"' in html and "0 décisions identiques sur 1 contrôles observés." in html

    # Published, it stops being a shadow and serves.
    with django_capture_on_commit_callbacks(execute=True):
        ruleset_approve(actor=checker, ruleset=draft)
        ruleset_publish(actor=checker, ruleset=draft)
    draft.refresh_from_db()
    assert draft.shadow is False
    published, shadow = serving_rulesets()
    assert (published.version, shadow) == ("ruleset-v2", None)
    checked, meta = _check()
    assert checked.result.decision == "hold" and "ruleset_shadow" not in meta


def test_stopping_the_shadow_through_the_page(risk_admin_user, django_capture_on_commit_callbacks):
    draft = _submitted(risk_admin_user)
    client = Client()
    client.force_login(risk_admin_user)
    url = reverse("admin:fraud_ruleset_shadow", args=[draft.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"on": "1"}).status_code == 302
    assert serving_rulesets()[1].version == "ruleset-v2"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"on": "0"})
    assert serving_rulesets()[1] is None
    _, meta = _check()
    assert "ruleset_shadow" not in meta
