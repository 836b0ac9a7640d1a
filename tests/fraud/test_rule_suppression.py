"""A rule snoozed for one member: not counted for them until the date, recorded as suppressed, audited."""

from datetime import timedelta

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alerts.models import AIMetric
from fraud.detectors import combine_ruleset
from fraud.list_services import ListError, rule_suppression_add, rule_suppression_end
from fraud.models_lists import RuleSuppression
from fraud.rules_engine import compile_ruleset, default_rule_specs
from fraud.services import payment_check, transaction_check
from sunusav.models import AnalystAction, Payment
from tests.factories import PaymentFactory
from tests.fraud.conftest import ORDINARY

pytestmark = pytest.mark.django_db
BURST = {**{k: v for k, v in ORDINARY.items() if k != "user_id"}, "invoices_last_min": 6}


def test_a_snoozed_rule_does_not_count_for_that_member_only(analyst_user, django_capture_on_commit_callbacks):
    payment = PaymentFactory(status=Payment.Status.PENDING)
    member = str(payment.member_id)
    with pytest.raises(ListError):
        rule_suppression_add(
            actor=analyst_user, member_ref=member, rule_id="invoice_burst", until=timezone.now(), reason="x"
        )
    with django_capture_on_commit_callbacks(execute=True):
        snooze = rule_suppression_add(
            actor=analyst_user,
            member_ref=member,
            rule_id="invoice_burst",
            until=timezone.now() + timedelta(days=7),
            reason="vendeuse du marché : rafales normales",
        )
    checked = payment_check(payment=payment, features={**BURST, "user_id": member})
    assert checked.result.decision == "allow" and checked.result.rules_fired == []
    meta = AIMetric.objects.get(metric_key="fraud_check", user=payment.member).meta
    assert meta["rules_suppressed"] == ["invoice_burst"]
    assert transaction_check(features={**BURST, "user_id": "someone-else"}).decision == "hold"

    with django_capture_on_commit_callbacks(execute=True):
        rule_suppression_end(actor=analyst_user, suppression=snooze)
    assert transaction_check(features={**BURST, "user_id": member}).decision == "hold"
    assert AnalystAction.objects.filter(action="rule_suppress").count() == 2


def test_numpy_and_one_row_agree_on_snoozes():
    ruleset = compile_ruleset(default_rule_specs())
    ruleset.suppressed = {"m1": frozenset({"invoice_burst"})}
    matrix = np.array([[12_000, 86_400, 6, 0, 0]] * 6, dtype=np.float64)
    rows = [{"user_id": m} for m in ("m1", "m2", "m1", "m3", "m1", "m2")]
    out: list = []
    _, _, _, fired = combine_ruleset(matrix, None, None, None, ruleset, subject_rows=rows, suppressed_out=out)
    one = [combine_ruleset(matrix[:1], None, None, None, ruleset, subject_rows=[row])[3][0] for row in rows]
    assert fired == one == [[] if r["user_id"] == "m1" else ["invoice_burst"] for r in rows]
    assert out == [["invoice_burst"] if r["user_id"] == "m1" else [] for r in rows]


def test_an_analyst_snoozes_through_the_admin(analyst_user):
    client = Client()
    client.force_login(analyst_user)
    until = (timezone.localtime() + timedelta(days=3)).strftime("%d/%m/%Y %H:%M")
    response = client.post(
        reverse("admin:fraud_rulesuppression_add"),
        {
            "member_ref": "m-7",
            "rule_id": "rapid_repeat",
            "until_0": until[:10],
            "until_1": until[11:],
            "until": until,
            "reason": "test",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert RuleSuppression.objects.get().created_by == analyst_user
    assert AnalystAction.objects.filter(action="rule_suppress", actor=analyst_user).exists()
