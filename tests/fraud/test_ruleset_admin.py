"""The fraud rules' admin: versions, a version's page, the rule editor on drafts, the steps as POSTs, the backtest job."""

from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import _sync

from alerts.models import AIAlert, AlertType
from fraud.backtest import ruleset_backtest_run
from fraud.models_rules import RuleSet
from sunusav.models import AnalystAction, Payment
from tests.factories import MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def maker(risk_admin_user):
    return _client(risk_admin_user)


@pytest.fixture
def checker(risk_groups):
    user = User.objects.create_user("checker", password="pw-checker-2026", is_staff=True)
    user.groups.add(risk_groups["admin"])
    return _client(User.objects.get(pk=user.pk))


def step(pk, name):
    return reverse("admin:fraud_ruleset_step", args=[pk, name])


def page(pk):
    return reverse("admin:fraud_ruleset_change", args=[pk])


RULE = {
    "rule_id": "sim_swap",
    "name_fr": "Changement de SIM",
    "name_en": "SIM swap",
    "reason_fr": "Nouvel appareil et {invoices_last_min:.0f} factures.",
    "reason_en": "New device and {invoices_last_min:.0f} invoices.",
    "expression": "device_changes >= 1 && invoices_last_min >= 2",
    "effect": "review",
    "weight": "0",
    "priority": "5",
    "enabled": "on",
}


def test_the_list_and_the_published_versions_page_in_french(maker):
    listing = maker.get(reverse("admin:fraud_ruleset_changelist"))
    assert listing.status_code == 200
    v1 = RuleSet.objects.get(number=1)
    html = maker.get(page(v1.pk)).content.decode()
    assert "Règles de fraude, version 1" in html and "publiée" in html
    assert "invoices_last_min &gt;= 3" in html
    assert 'id="rule-names"' in html and "Seuil déclaratif en vigueur" in html and "reporting_limit" in html
    assert 'data-step="draft"' in html and 'data-step="approve"' not in html


def test_an_analyst_reads_but_has_no_buttons(analyst_user):
    client = _client(analyst_user)
    v1 = RuleSet.objects.get(number=1)
    html = client.get(page(v1.pk)).content.decode()
    assert 'id="ruleset-steps"' not in html
    assert client.post(step(v1.pk, "draft"), {"note": ""}).status_code == 403
    assert RuleSet.objects.count() == 1


def test_write_submit_approve_publish_through_the_pages(maker, checker):
    v1 = RuleSet.objects.get(number=1)
    assert maker.get(step(v1.pk, "draft")).status_code == 200  # the confirmation page asks first
    assert RuleSet.objects.count() == 1
    response = maker.post(step(v1.pk, "draft"), {"note": "SIM swap wave"})
    draft = RuleSet.objects.get(number=2)
    assert response.status_code == 302 and response["Location"] == page(draft.pk)

    # A bad expression: 400, a French message naming the rule and position, nothing saved.
    bad = maker.post(
        reverse("admin:fraud_ruleset_rule_new", args=[draft.pk]), {**RULE, "expression": "device_changes >= "}
    )
    assert bad.status_code == 400
    assert "Règle « sim_swap », position 18 : expression incomplète" in bad.content.decode()
    assert not draft.rules.filter(rule_id="sim_swap").exists()

    ok = maker.post(reverse("admin:fraud_ruleset_rule_new", args=[draft.pk]), RULE)
    assert ok.status_code == 302
    edit = maker.post(
        reverse("admin:fraud_ruleset_rule", args=[draft.pk, "very_large_amount"]),
        {
            **RULE,
            "rule_id": "ignored",
            "name_fr": "Très gros montant",
            "expression": "amount_sats >= 900000",
            "effect": "weight",
            "weight": "0.6",
        },
    )
    assert edit.status_code == 302
    assert draft.rules.get(rule_id="very_large_amount").expression == "amount_sats >= 900000"

    html = maker.get(page(draft.pk)).content.decode()
    assert "Différences avec la version publiée (1)" in html
    assert "Règle « sim_swap » ajoutée" in html
    assert (
        "Règle « very_large_amount », expression : « amount_sats &gt;= 823782 » → « amount_sats &gt;= 900000 »" in html
    )

    assert maker.post(step(draft.pk, "submit"), {"note": ""}).status_code == 302
    # Submitted: no editing any more; the maker sees no approve button and is refused.
    assert (
        maker.post(reverse("admin:fraud_ruleset_rule_new", args=[draft.pk]), {**RULE, "rule_id": "x"}).status_code
        == 302
    )
    assert not draft.rules.filter(rule_id="x").exists()
    assert 'data-step="approve"' not in maker.get(page(draft.pk)).content.decode()
    refused = maker.post(step(draft.pk, "approve"), {"note": ""})
    assert refused.status_code == 400 and "Quatre yeux" in refused.content.decode()
    assert RuleSet.objects.get(pk=draft.pk).status == "submitted"

    assert 'data-step="approve"' in checker.get(page(draft.pk)).content.decode()
    assert checker.post(step(draft.pk, "approve"), {"note": "vu"}).status_code == 302
    assert checker.post(step(draft.pk, "publish"), {"note": ""}).status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published"
    assert [a.action for a in AnalystAction.objects.order_by("id")] == [
        "ruleset_draft",
        "ruleset_edit",
        "ruleset_edit",
        "ruleset_submit",
        "ruleset_approve",
        "ruleset_publish",
    ]

    # Roll back to v1 from its page: a reason is required.
    assert checker.post(step(v1.pk, "rollback"), {"note": ""}).status_code == 400
    assert checker.post(step(v1.pk, "rollback"), {"note": "trop d'alertes"}).status_code == 302
    assert RuleSet.objects.get(status="published").based_on == v1


def _world():
    now = timezone.now()
    member = MemberFactory()
    payments = []
    for i, (amount, minutes_ago) in enumerate(
        [(12_000, 600), (12_500, 300), (900_000, 200), (850_000, 100), (25_000, 50)]
    ):
        payments.append(
            PaymentFactory(
                member=member,
                amount_sats=amount,
                created_at=now - timedelta(minutes=minutes_ago),
                device_id=f"d{i % 2}",
            )
        )
    old = PaymentFactory(member=member, amount_sats=900_000, created_at=now - timedelta(days=40))
    AIAlert.objects.create(
        user=member,
        alert_type=AlertType.FRAUD_SUSPECT,
        resolved=True,
        payload={"payment_id": str(payments[2].pk), "outcome": "confirmed_fraud", "resolved_by": "moussa"},
    )
    AIAlert.objects.create(
        user=member,
        alert_type=AlertType.FRAUD_SUSPECT,
        resolved=True,
        payload={"payment_id": str(payments[3].pk), "outcome": "false_positive", "resolved_by": "moussa"},
    )
    return payments, old


def test_the_backtest_counts_hits_verdicts_and_changes_against_the_published(risk_admin_user):
    payments, old = _world()
    from fraud.ruleset_services import ruleset_draft_create, ruleset_rule_save

    draft = ruleset_draft_create(actor=risk_admin_user)
    ruleset_rule_save(
        actor=risk_admin_user,
        ruleset=draft,
        rule_id="very_large_amount",
        expression="amount_sats >= 880000",
        weight=0.9,
    )
    ruleset_rule_save(
        actor=risk_admin_user,
        ruleset=draft,
        rule_id="mid",
        name_fr="Moyen",
        expression="amount_sats >= 20000 && amount_sats < 30000",
        effect="review",
        priority=1,
    )
    report = ruleset_backtest_run(ruleset=draft, window_days=30)
    assert report["payments"] == 5  # the 40-day-old payment is outside the window
    assert report["verdicts"] == {"confirmed_fraud": 1, "false_positive": 1}
    rules = {r["id"]: r for r in report["rules"]}
    assert rules["very_large_amount"]["hits"] == 1 and rules["very_large_amount"]["confirmed_fraud"] == 1
    assert rules["mid"]["hits"] == 1 and rules["mid"]["reviews"] == 1
    # Published v1: 900k and 850k both reach "very_large_amount" (0.6: review); the draft holds 900k, drops 850k.
    assert report["published"]["reviews"] == 2 and report["published"]["precision"] == 0.5
    assert (
        report["overall"]["holds"] == 1 and report["overall"]["precision"] == 1.0 and report["overall"]["recall"] == 1.0
    )
    assert report["gained"] == 1 and report["lost"] == 1
    assert report["examples_lost"] == [{"payment_id": str(payments[3].pk), "before": "review", "after": "allow"}]
    assert report["alerts_per_day"] == round(2 / 30, 1) and report["capacity"] == 200
    region = payments[0].member.region
    assert report["segments"] == [{"region": region, "payments": 5, "flagged": 2}]
    # The flagged payments of each local day of the window (the report's chart), as many as flagged overall.
    assert sum(report["flagged_per_day"].values()) == report["overall"]["flagged"] == 2
    # The draft flags the 900k payment (hold) and the 25k one (review): their days, however midnight falls.
    flagged_days = Counter(timezone.localdate(payments[i].created_at).isoformat() for i in (2, 4))
    assert report["flagged_per_day"] == dict(flagged_days)


def test_the_backtest_button_enqueues_a_job_whose_report_shows_on_the_page(
    maker, risk_admin_user, django_capture_on_commit_callbacks
):
    _world()
    v1 = RuleSet.objects.get(number=1)
    with django_capture_on_commit_callbacks(execute=True):
        maker.post(step(v1.pk, "draft"), {"note": ""})
    draft = RuleSet.objects.get(number=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = maker.post(reverse("admin:fraud_ruleset_backtest", args=[draft.pk]), {"window_days": "30"})
    assert response.status_code == 302
    assert "Rétro-test en cours : 0 %" in maker.get(page(draft.pk)).content.decode()
    (job,) = OrmQ.objects.all()
    assert job.task["func"] == "fraud.backtest.ruleset_backtest_job"
    previous = Conf.SYNC
    Conf.SYNC = True
    try:
        _sync(job.payload)
    finally:
        Conf.SYNC = previous
    draft.refresh_from_db()
    assert draft.backtest["state"] == "done" and draft.backtest["payments"] == 5
    html = maker.get(page(draft.pk)).content.decode()
    assert 'id="backtest-overall"' in html and "5 paiements" in html
    assert AnalystAction.objects.filter(action="ruleset_backtest", actor=risk_admin_user).exists()
    assert Payment.objects.count() == 6


# --- The editor's check as the admin types, and who sees which button ---------------------------


def check(pk):
    return reverse("admin:fraud_ruleset_rule_check", args=[pk])


def test_the_editor_checks_an_expression_without_saving_with_the_saves_message(maker, risk_admin_user):
    from fraud.ruleset_services import ruleset_draft_create

    draft = ruleset_draft_create(actor=risk_admin_user)
    actions, rules = AnalystAction.objects.count(), list(draft.rules.values_list("rule_id", "expression"))
    bad = maker.post(check(draft.pk), {"rule_id": "sim_swap", "expression": "device_changes >= "})
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json"
    assert bad.json() == {
        "ok": False,
        "position": 18,
        "reason": "expression incomplète",
        "message": "Règle « sim_swap », position 18 : expression incomplète",
    }
    # The save refuses the same text with the same words (JavaScript off).
    saved = maker.post(
        reverse("admin:fraud_ruleset_rule_new", args=[draft.pk]), {**RULE, "expression": "device_changes >= "}
    )
    assert saved.status_code == 400 and bad.json()["message"] in saved.content.decode()
    typo = maker.post(check(draft.pk), {"rule_id": "x", "expression": "amount_sats >= 700000 && invoices_last_mn >= 2"})
    assert typo.status_code == 400 and typo.json()["position"] == 26
    assert "nom inconnu « invoices_last_mn »" in typo.json()["message"]
    unknown_list = maker.post(check(draft.pk), {"rule_id": "x", "expression": 'device in list("inconnue")'})
    assert unknown_list.status_code == 400 and unknown_list.json()["ok"] is False
    empty = maker.post(check(draft.pk), {"rule_id": "x", "expression": "  "})
    assert empty.status_code == 400 and empty.json()["message"] == "Ce champ est obligatoire."
    ok = maker.post(check(draft.pk), {"rule_id": "x", "expression": "amount_sats >= 700000 && invoices_last_min >= 2"})
    assert ok.status_code == 200 and ok.json() == {"ok": True, "position": None, "message": "Expression correcte."}
    assert AnalystAction.objects.count() == actions
    assert list(draft.rules.values_list("rule_id", "expression")) == rules


def test_the_check_is_for_drafts_by_editors_and_posted_with_the_csrf_token(maker, analyst_user, risk_admin_user):
    from fraud.ruleset_services import ruleset_draft_create

    draft = ruleset_draft_create(actor=risk_admin_user)
    v1 = RuleSet.objects.get(number=1)
    body = {"rule_id": "x", "expression": "amount_sats >= 1"}
    refused = maker.post(check(v1.pk), body)
    assert (
        refused.status_code == 403
        and refused.json()["message"] == "Seul un brouillon se modifie, par qui en a le droit."
    )
    assert _client(analyst_user).post(check(draft.pk), body).status_code == 403
    assert maker.get(check(draft.pk)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(risk_admin_user)
    assert strict.post(check(draft.pk), body).status_code == 403
    editor = strict.get(reverse("admin:fraud_ruleset_rule_new", args=[draft.pk])).content.decode()
    assert f'data-check-url="{check(draft.pk)}"' in editor and "backoffice/rule_editor.js" in editor
    assert 'id="expression-check"' in editor
    token = strict.cookies["csrftoken"].value
    assert strict.post(check(draft.pk), body, HTTP_X_CSRFTOKEN=token).status_code == 200


def _steps(client, pk) -> set[str]:
    import re

    return set(re.findall(r'data-step="(\w+)"', client.get(page(pk)).content.decode()))


def test_approve_and_publish_show_only_to_those_allowed(maker, checker, analyst_user, risk_admin_user, risk_groups):
    from django.contrib.auth.models import Permission

    from fraud.ruleset_services import ruleset_approve, ruleset_draft_create, ruleset_submit

    # An approver who may not publish: the approve button, never the publish one.
    approver = User.objects.create_user("approbateur", password="pw-approbateur-2026", is_staff=True)
    approver.groups.add(risk_groups["analyst"])
    approver.user_permissions.add(Permission.objects.get(codename="approve_ruleset"))
    approver = _client(User.objects.get(pk=approver.pk))
    analyst = _client(analyst_user)
    draft = ruleset_draft_create(actor=risk_admin_user)
    assert _steps(maker, draft.pk) == {"submit", "draft"}
    assert _steps(checker, draft.pk) == {"submit", "draft"}
    assert _steps(approver, draft.pk) == set() and _steps(analyst, draft.pk) == set()

    ruleset_submit(actor=risk_admin_user, ruleset=draft)
    assert _steps(maker, draft.pk) == {"send_back", "draft"}  # the maker: no approve (four eyes)
    assert _steps(checker, draft.pk) == {"send_back", "approve", "draft"}
    assert _steps(approver, draft.pk) == {"send_back", "approve"}
    assert _steps(analyst, draft.pk) == set()

    ruleset_approve(actor=User.objects.get(username="checker"), ruleset=draft)
    assert _steps(maker, draft.pk) == {"publish", "draft"} and _steps(checker, draft.pk) == {"publish", "draft"}
    assert _steps(approver, draft.pk) == set() and _steps(analyst, draft.pk) == set()
    # A forced POST without the permission is refused and changes nothing.
    assert approver.post(step(draft.pk, "publish"), {"note": ""}).status_code == 403
    assert analyst.post(step(draft.pk, "approve"), {"note": ""}).status_code == 403
    assert RuleSet.objects.get(pk=draft.pk).status == "approved"


def test_the_backtest_report_reads_as_french_tables_beside_two_charts(maker, risk_admin_user):
    import re

    from fraud.ruleset_services import ruleset_backtest_store, ruleset_draft_create
    from tests.backoffice.test_french_pages import english_left, visible_text

    _world()
    draft = ruleset_draft_create(actor=risk_admin_user)
    report = ruleset_backtest_run(ruleset=draft, window_days=30)
    report["payments"] = 12_345  # a number French groups
    ruleset_backtest_store(actor=risk_admin_user, ruleset=draft, report=report)
    html = maker.get(page(draft.pk)).content.decode()
    text = visible_text(html)
    assert english_left(text) == []
    assert "12 345 paiements" in text and "Alertes projetées : 0,1 par jour pour une capacité de 200 par jour" in text
    assert "précision (avis des analystes) 50 % 50 % rappel (avis des analystes) 100 % 100 %" in text
    # Counts after the words: "1 fraudes confirmées", "0 paiements gagnés" read wrong in French.
    assert "fraudes confirmées : 1, fausses alertes : 1" in text
    assert "paiements gagnés (alerte ou blocage en plus) : 0 ; perdus : 0" in text
    rules_chart = re.search(r'id="backtest-rules-chart">(.*?)</div>', html, re.S).group(1)
    assert 'aria-label="Déclenchements, blocages et revues par règle"' in rules_chart
    hits = {
        label: float(value)
        for label, value in re.findall(
            r'data-label="([^"]+)" data-series="déclenchements" data-value="([\d.]+)"', rules_chart
        )
    }
    assert hits["Montant très él…"] == 2.0 and len(hits) == draft.rules.count()
    days_chart = re.search(r'id="backtest-days-chart">(.*?)</div>', html, re.S).group(1)
    assert len(re.findall(r'class="bar"', days_chart)) == 31  # every day of the window, from its first to today
    assert sum(float(v) for v in re.findall(r'class="bar"[^>]*data-value="([\d.]+)"', days_chart)) == 2.0
    assert 'class="reference" data-value="200' in days_chart and "capacité : 200" in days_chart
    # The tables beside: every rule by its French name, its code, hits, holds and reviews.
    assert re.search(
        r'<tr data-rule="very_large_amount"><td>Montant très élevé</td><td><code>very_large_amount</code></td><td>2</td>',
        html,
    )
    assert 'id="backtest-days"' in html and "perdu" in text or "gagné" in text

    maker.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    english = visible_text(maker.get(page(draft.pk)).content.decode())
    assert "12,345 payments" in english and "Per rule" in english and "capacity : 200" in english
    assert "Very large amount 2 0 2 1 1" in english and "confirmed frauds: 1, false alarms: 1" in english
