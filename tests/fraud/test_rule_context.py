"""Rules that read the member's context (issue 15): the check, the backtest and the editor agree on what they mean."""

import datetime as dt

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from credit.scoring import BAND_CUTOFFS
from fraud.backtest import ruleset_backtest_run
from fraud.features import CONTEXT, CONTEXT_DOCS, FEATURES
from fraud.member_context import member_context_at
from fraud.models_rules import RuleSet
from fraud.rules_engine import RuleExpressionError, compile_rule, compile_ruleset
from fraud.ruleset_services import (
    ruleset_approve,
    ruleset_draft_create,
    ruleset_publish,
    ruleset_rule_save,
    ruleset_submit,
)
from fraud.selectors import payment_features
from sunusav.models import Payment
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

COL = {name: j for j, name in enumerate(CONTEXT)}
# Large for this member: over three times their high amount, once they have a baseline of five payments.
BIG_FOR_MEMBER = "amount_sats > 3 * amount_p95_90d && member_payments_90d >= 5"


def _draft(actor, expression=BIG_FOR_MEMBER):
    draft = ruleset_draft_create(actor=actor)
    ruleset_rule_save(
        actor=actor,
        ruleset=draft,
        rule_id="big_for_member",
        name_fr="Gros montant pour ce membre",
        reason_fr="{amount_sats:.0f} sats, au-delà de 3 fois son montant élevé ({amount_p95_90d:.0f} sats).",
        reason_en="{amount_sats:.0f} sats, over 3 times their high amount ({amount_p95_90d:.0f} sats).",
        expression=expression,
        effect="review",
        priority=1,
    )
    return draft


def _history(member, now, amounts):
    Payment.objects.bulk_create(
        [
            Payment(
                member=member,
                created_at=now - dt.timedelta(days=2 * (i + 1), hours=3),
                amount_sats=amount,
                kind="payment",
                device_id="tel-1",
                location="thies",
                status="settled",
            )
            for i, amount in enumerate(amounts)
        ]
    )


def test_unknown_context_makes_every_comparison_false_in_both_forms():
    rule = compile_rule({"rule_id": "r", "expression": "sats_24h != 5 && credit_score < 0.5"})
    assert "known__sats_24h" in rule.cel_source and "known__credit_score" in rule.cel_source
    ruleset = compile_ruleset([{"rule_id": "r", "expression": "!(sats_24h > 100) && account_age_days < 400"}])
    assert ruleset.context_names == ("account_age_days", "sats_24h")
    row = dict.fromkeys(FEATURES, 0.0)
    unknown = np.full(len(CONTEXT), np.nan)
    known = unknown.copy()
    known[COL["sats_24h"]], known[COL["account_age_days"]] = 50.0, 30.0
    # Unknown: `sats_24h > 100` is false, so its negation is true; `account_age_days < 400` is false.
    for values, expected in ((unknown, False), (known, True)):
        scalar = ruleset.fired(ruleset.facts(row, 100_000, context=values))[0]
        columns = {name: np.array([0.0]) for name in FEATURES} | {"reporting_limit": 100_000.0}
        columns |= ruleset.context_columns(values[None, :])
        vector = bool(ruleset.fire_columns(columns, 1)["r"][0])
        assert scalar == vector == expected
    with pytest.raises(RuleExpressionError):
        compile_rule({"rule_id": "r", "expression": "known__sats_24h"})  # the guard is no name a rule can read


def test_a_published_context_rule_reviews_what_is_large_for_this_member_and_says_why(
    django_capture_on_commit_callbacks, risk_admin_user, checker, settings
):
    now = timezone.now()
    member = MemberFactory()
    _history(member, now, [9_000, 10_000, 11_000, 10_500, 9_500, 10_200, 9_800])
    with django_capture_on_commit_callbacks(execute=True):
        draft = _draft(risk_admin_user)
        ruleset_submit(actor=risk_admin_user, ruleset=draft)
        ruleset_approve(actor=checker, ruleset=draft)
        ruleset_publish(actor=checker, ruleset=draft)
    client = APIClient()
    client.credentials(HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])
    body = {"amount_sats": 60_000, "time_since_last_sec": 86_400, "invoices_last_min": 0}
    body |= {"device_changes": 0, "location_changes": 0}
    known = client.post("/api/fraud/check", {"user_id": str(member.pk), **body}, format="json").json()
    assert known["decision"] == "review" and known["rules_fired"] == ["big_for_member"]
    assert known["member_context"] == "member_history"
    reason = next(r for r in known["reasons"] if r["id"] == "big_for_member")
    p95 = member_context_at(member_id=member.pk, at=now, amount_sats=60_000)[COL["amount_p95_90d"]]
    assert reason["fr"] == f"60000 sats, au-delà de 3 fois son montant élevé ({p95:.0f} sats)."
    # 30,000 sats is ordinary enough for her; for a member nobody knows, the context is unknown: no review.
    ordinary = client.post(
        "/api/fraud/check", {"user_id": str(member.pk), **body, "amount_sats": 30_000}, format="json"
    ).json()
    assert ordinary["decision"] == "allow" and ordinary["rules_fired"] == []
    stranger = client.post("/api/fraud/check", {"user_id": "inconnu-1", **body}, format="json").json()
    assert stranger["rules_fired"] == [] and stranger["member_context"] == "population_defaults"


def test_the_backtest_reads_each_stored_payment_s_context_as_its_own_check_would(risk_admin_user):
    now = timezone.now()
    members = [MemberFactory() for _ in range(3)]
    rng = np.random.default_rng(4)
    for k, member in enumerate(members):
        _history(member, now - dt.timedelta(days=20), rng.integers(5_000, 15_000, 8).tolist())
        # In the 30-day window: ordinary payments, and for two of them one large for them.
        Payment.objects.bulk_create(
            [
                Payment(
                    member=member,
                    created_at=now - dt.timedelta(days=d, minutes=7 * k),
                    amount_sats=amount,
                    kind="payment",
                    device_id="tel-1",
                    location="thies",
                    status="settled",
                )
                for d, amount in ((9, 12_000), (6, 80_000 if k < 2 else 14_000), (3, 10_000))
            ]
        )
    draft = _draft(risk_admin_user)
    report = ruleset_backtest_run(ruleset=draft, window_days=30, now=now)
    # Each stored payment of the window, checked alone: its context from one statement, its features as stored.
    ruleset = compile_ruleset([r.spec() for r in RuleSet.objects.get(pk=draft.pk).rules.all()])
    window = list(Payment.objects.filter(created_at__gte=now - dt.timedelta(days=30)).order_by("created_at", "id"))
    expected = 0
    for payment, features in zip(window, payment_features(payments=window), strict=True):
        context = member_context_at(
            member_id=payment.member_id,
            at=payment.created_at,
            amount_sats=float(payment.amount_sats),
            device=payment.device_id,
            location=payment.location,
            exclude=payment.pk,
        )
        facts = ruleset.facts(dict(zip(FEATURES, features, strict=True)), 100_000, context=context)
        expected += int(ruleset.fired(facts)[0])
    rules = {r["id"]: r for r in report["rules"]}
    assert expected == 2 and rules["big_for_member"]["hits"] == expected


def test_the_editor_documents_every_context_name_in_french_and_english(risk_admin_user):
    client = Client()
    client.force_login(User.objects.get(pk=risk_admin_user.pk))
    v1 = RuleSet.objects.get(number=1)
    html = client.get(reverse("admin:fraud_ruleset_change", args=[v1.pk])).content.decode()
    for name in CONTEXT:
        assert name in html, name
    assert "Montant élevé du membre sur 90 jours" in html and "bandes : A dès 0,90" in html
    # The editor shows each name's French and English sentences side by side.
    assert "The member&#x27;s high amount over 90 days" in html


def test_the_credit_bands_the_editor_names_are_the_credit_model_s():
    # fraud may not import credit (docs/ARCHITECTURE.md); the test holds the two together.
    english = CONTEXT_DOCS["credit_score"]["en"]
    for band, cutoff in BAND_CUTOFFS:
        assert f"{band} from {cutoff:.2f}" in english
