"""A rule's day in a real browser: written, checked as it is typed, backtested, approved by a second admin, live.

Risk admin Aminata creates a draft from the published version and writes a
rule; a typo in its expression shows the French error under the field, with a
caret at the column, before anything is saved; corrected, the rule is saved.
Her backtest runs as a django-q2 job on a real cluster (`manage.py qcluster`
on the test database, as the e2e tests run jobs) and its report shows with
its charts. She submits; she has no approve button, and posting the approval
anyway is refused in French (four eyes). Risk admin Ousmane approves and
publishes; a payment event then hits the new rule, and the answer and the
audit row name the new version and the rule. Chromium (Debian's package)
through Playwright, 1366 px wide, at French locale; screenshots in
var/screenshots/.
"""

import json
import re
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from alerts.models import AIMetric
from fraud.models_rules import Rule, RuleSet
from fraud.rules_engine import default_rule_specs
from fraud.ruleset_serving import serving_invalidate
from sunusav.audit_trail import ADMIN_GROUP, groups_ensure
from sunusav.models import AnalystAction, Payment
from tests.cases.test_services import user
from tests.factories import MemberFactory, PaymentFactory
from tests.jobs_support import LiveCluster

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RULE_ID = "gros_montants_en_rafale"
TYPO = "amount_sats >= 700000.0 && invoices_last_mn >= 2.0"
EXPRESSION = "amount_sats >= 700000.0 && invoices_last_min >= 2.0"
AMOUNT = 750_000  # under v1's "very large amount" (823 782 sats): only the new rule holds these


def _login(page, base, account):
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", account.username)
    page.fill("#id_password", f"pw-{account.username}-2026")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _text(page, selector="#content") -> str:
    return re.sub(r"[\u00a0\u202f]", " ", page.inner_text(selector))


def _published_v1() -> RuleSet:
    """The migration's v1, made again when a transactional test before this one flushed it."""
    v1 = RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()
    if v1 is None:
        v1 = RuleSet.objects.create(number=1, status=RuleSet.Status.PUBLISHED, published_at=timezone.now())
        Rule.objects.bulk_create([Rule(ruleset=v1, **spec) for spec in default_rule_specs()])
    serving_invalidate()
    return v1


def _step(page, name: str):
    """Click a version's step button, then confirm on its page."""
    page.click(f"#ruleset-steps a[data-step={name}]")
    page.wait_for_selector("#step-form")
    page.click("#step-form input[type=submit]")


def _payment_event(base: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base}/api/events/payment",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Internal-Token": settings.AI_INTERNAL_TOKENS[0]},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_a_rule_is_written_checked_backtested_approved_by_another_admin_and_hits_a_payment(
    live_server, browser_page, screenshot
):
    call_command("models_sync", verbosity=0)
    groups_ensure()  # a transactional test before this one may have emptied the groups
    v1 = _published_v1()
    maker, checker = user("aminata", ADMIN_GROUP), user("ousmane", ADMIN_GROUP)
    # Stored history for the backtest: one member's two 800 000-sat invoices 20 s apart, three days ago.
    burst = MemberFactory(display_name="Pape Ndiaye")
    start = timezone.now() - timedelta(days=3)
    for seconds in (0, 20):
        PaymentFactory(member=burst, kind="invoice", amount_sats=800_000, created_at=start + timedelta(seconds=seconds))
    for days in (1, 2, 5):
        PaymentFactory(member=MemberFactory(), amount_sats=9_000, created_at=timezone.now() - timedelta(days=days))
    payer = MemberFactory(display_name="Fatou Sarr")
    page, base = browser_page, live_server.url

    # --- Aminata writes the rule -------------------------------------------------------------
    _login(page, base, maker)
    page.goto(f"{base}/admin/fraud/ruleset/{v1.pk}/change/")
    _step(page, "draft")
    page.wait_for_selector("#ruleset-rules")
    assert "Brouillon 2 créé." in _text(page, ".messagelist")
    draft_url = page.url
    page.click("#rule-add")
    page.wait_for_selector("#rule-form")
    page.fill("#id_rule_id", RULE_ID)
    page.fill("#id_name_fr", "Gros montants en rafale")
    page.fill("#id_name_en", "Large amounts in a burst")
    page.fill("#id_reason_fr", "{invoices_last_min:.0f} factures de gros montant en une minute.")
    page.fill("#id_reason_en", "{invoices_last_min:.0f} large invoices within a minute.")
    page.select_option("#id_effect", "hold")
    page.fill("#id_priority", "0")
    page.locator("#id_expression").press_sequentially(TYPO, delay=5)  # typed: the check waits for a pause
    page.wait_for_selector("#expression-check[data-state=bad]")
    message = _text(page, "#expression-check .rule-check-message")
    assert message == "Règle « gros_montants_en_rafale », position 28 : nom inconnu « invoices_last_mn »"
    caret = page.locator("#expression-check .rule-caret")
    assert caret.get_attribute("data-column") == "28" and caret.locator("mark").inner_text() == "i"
    assert caret.inner_text().splitlines() == [TYPO, " " * 27 + "^"]
    assert page.get_attribute("#id_expression", "aria-invalid") == "true"
    screenshot("rule-1-typo-checked-before-saving")

    page.fill("#id_expression", EXPRESSION)
    page.wait_for_selector("#expression-check[data-state=ok]")
    assert _text(page, "#expression-check") == "Expression correcte."
    assert not caret.is_visible()
    page.click("#rule-form input[type=submit]")
    page.wait_for_url(draft_url)
    assert "Règle « gros_montants_en_rafale » enregistrée." in _text(page, ".messagelist")
    assert page.is_visible(f"#ruleset-rules tr[data-rule={RULE_ID}]")

    # --- Her backtest, on a real django-q2 cluster ------------------------------------------------
    cluster = LiveCluster(env={"Q_WORKERS": "1"}).start()
    try:
        page.select_option("#backtest-form select[name=window_days]", "30")
        page.click("#backtest-form input[type=submit]")
        page.wait_for_selector("#backtest-report")
        assert "Rétro-test de la version 2 sur 30 jours lancé" in _text(page, ".messagelist")
        for _ in range(120):  # the job's progress shows on the page; it is done within a minute
            if page.get_attribute("#backtest-report", "data-state") in ("done", "failed"):
                break
            page.wait_for_timeout(500)
            page.reload()
        else:
            raise AssertionError("the backtest did not finish in 60 s")
    finally:
        cluster.stop()
    assert page.get_attribute("#backtest-report", "data-state") == "done", _text(page, "#backtest-report")
    report = _text(page, "#backtest-report")
    assert "Fenêtre : 30 jours" in report and "5 paiements" in report
    row = page.locator(f"#backtest-rules tr[data-rule={RULE_ID}] td").all_inner_texts()
    assert row[:5] == ["Gros montants en rafale", RULE_ID, "1", "1", "0"]  # the burst's second invoice: a hold
    assert page.is_visible("#backtest-rules-chart svg") and page.is_visible("#backtest-days-chart svg")
    bar = page.locator('#backtest-rules-chart rect.bar[data-label^="Gros montants"][data-series="blocages"]')
    assert bar.get_attribute("data-value") == "1.0" and float(bar.get_attribute("height")) > 0
    assert page.locator("#backtest-days-chart line.reference").get_attribute("data-value") == "200.0"
    page.locator("#ruleset-backtest").scroll_into_view_if_needed()
    screenshot("rule-2-backtest-report")

    # --- She submits, and may not approve her own version ----------------------------------------
    _step(page, "submit")
    page.wait_for_selector("#ruleset-status[data-status=submitted]")
    steps = page.locator("#ruleset-steps a").evaluate_all("links => links.map(a => a.dataset.step)")
    assert "approve" not in steps and "publish" not in steps
    page.goto(draft_url.replace("/change/", "/step/approve/"))  # the approval posted anyway
    page.click("#step-form input[type=submit]")
    page.wait_for_selector("#step-error")
    assert "Quatre yeux : vous avez écrit ou soumis cette version, un autre administrateur doit l'approuver." in _text(
        page, "#step-error"
    )
    screenshot("rule-3-own-approval-refused")

    # --- Ousmane approves and publishes --------------------------------------------------------------
    _login(page, base, checker)
    page.goto(draft_url)
    _step(page, "approve")
    page.wait_for_selector("#ruleset-status[data-status=approved]")
    assert "Version 2 approuvée : elle peut être publiée." in _text(page, ".messagelist")
    _step(page, "publish")
    page.wait_for_selector("#ruleset-status[data-status=published]")
    assert "Version 2 publiée" in _text(page, ".messagelist")
    screenshot("rule-4-published-by-the-second-admin")
    page.context.close()  # the browser is done before the database is read again

    # --- A payment event hits the new rule -----------------------------------------------------------
    event = {"user_id": str(payer.pk), "kind": "invoice", "amount_sats": AMOUNT, "device_id": "d1", "location": "dakar"}
    first = _payment_event(base, {**event, "payment_id": str(uuid.uuid4())})
    assert first["ruleset_version"] == "ruleset-v2" and RULE_ID not in first["rules_fired"]
    second_id = str(uuid.uuid4())
    second = _payment_event(base, {**event, "payment_id": second_id})
    assert second["ruleset_version"] == "ruleset-v2" and RULE_ID in second["rules_fired"]
    assert (second["decision"], second["status"]) == ("hold", "held")
    audit = AIMetric.objects.get(metric_key="fraud_check", meta__payment_id=second_id)
    assert audit.meta["ruleset_version"] == "ruleset-v2" and RULE_ID in audit.meta["rules_fired"]
    assert Payment.objects.get(pk=second_id).status == "held"

    draft = RuleSet.objects.get(number=2)
    assert (draft.status, draft.created_by, draft.submitted_by, draft.approved_by, draft.published_by) == (
        "published",
        maker,
        maker,
        checker,
        checker,
    )
    assert list(draft.rules.filter(rule_id=RULE_ID).values_list("expression", "effect")) == [(EXPRESSION, "hold")]
    actions = list(AnalystAction.objects.filter(target_id=str(draft.pk)).order_by("id").values_list("action", "actor"))
    assert actions == [  # the typo saved nothing; the refused approval left no trace
        ("ruleset_draft", maker.pk),
        ("ruleset_edit", maker.pk),
        ("ruleset_backtest", maker.pk),
        ("ruleset_submit", maker.pk),
        ("ruleset_approve", checker.pk),
        ("ruleset_publish", checker.pk),
    ]
