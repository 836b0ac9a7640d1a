"""An analyst's day in a real browser: log in, read the dashboard, resolve an alert, release a held payment.

Chromium (Debian's package) driven by Playwright against the live server over
real HTTP. Screenshots of each step go to var/screenshots/ (SCREENSHOT_DIR).
The database is prepared before the browser starts and checked after it
closes (see conftest.py).
"""

import pytest
from django.core.management import call_command

from alerts.models import AIAlert
from sunusav.models import AnalystAction, Payment
from tests.factories import MemberFactory
from tests.fraud.test_admin import held_payment

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page, base, user):
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}-2026")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_analyst_resolves_an_alert_and_releases_a_held_payment(live_server, analyst_user, browser_page, screenshot):
    call_command("models_sync", verbosity=0)  # the shipped models, as `make demo` registers them
    offer = AIAlert.objects.create(
        user=MemberFactory(display_name="Awa Diop"),
        alert_type="credit_offer",
        payload={"score": 0.91, "band": "A", "loan_amount": 50_000, "model_version": "test"},
    )
    payment = held_payment()
    page, base = browser_page, live_server.url

    _login(page, base, analyst_user)
    screenshot("1-admin-index")

    page.click("text=Tableau de bord")
    page.wait_for_selector("#panel-alerts svg")
    assert page.is_visible("#panel-models") and page.is_visible("#panel-stages")
    screenshot("2-dashboard")

    page.goto(f"{base}/admin/alerts/aialert/?alert_type__exact=credit_offer")
    page.check(f"input.action-select[value='{offer.pk}']")
    page.select_option("select[name=action]", "resolve")
    page.click("button[name=index]")
    page.wait_for_selector("form.risk-resolve-form")
    page.select_option("#id_outcome", "offer_sent")
    page.fill("#id_note", "Offre transmise par SMS, membre joint au téléphone.")
    screenshot("3-resolve-form")
    page.click("form.risk-resolve-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert "1 alerte résolue" in page.inner_text(".messagelist").replace("\u00a0", " ")
    screenshot("4-alert-resolved")

    page.goto(f"{base}/admin/sunusav/heldpayment/")
    page.click(f"a[href*='{payment.pk}']")
    page.wait_for_selector("#review-payment")
    assert page.is_visible("#hold-decision") and page.is_visible("#recent-payments")
    page.fill("#review-payment textarea", "Le membre a confirmé l'achat par téléphone.")
    screenshot("5-held-payment")
    page.click("#review-payment button[value=release]")
    page.wait_for_selector(".messagelist .success")
    screenshot("6-payment-released")

    page.context.close()  # the browser is done before the database is read again
    offer.refresh_from_db()
    payment.refresh_from_db()
    assert offer.resolved and offer.resolved_at and offer.payload["outcome"] == "offer_sent"
    assert payment.status == Payment.Status.RELEASED
    assert AIAlert.objects.get(payload__payment_id=str(payment.pk)).resolved
    actions = set(AnalystAction.objects.filter(actor=analyst_user).values_list("action", "target_id"))
    assert {("resolve", str(offer.pk)), ("release", str(payment.pk))} <= actions
