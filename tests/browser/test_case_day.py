"""A day with cases in a real browser: the burst that made 15 alerts and 15 holds is one case, decided once.

An analyst opens "Mes dossiers" (empty), claims the burst's case from the queue,
reads its evidence, confirms fraud for all 15 items in one decision; the amount
needs four eyes, so the compliance officer approves it; the analyst drafts the
CENTIF report, the compliance officer approves it and downloads its PDF, whose
text names the member's operations. Chromium (Debian's package) through
Playwright, 1366 px wide, at French locale; screenshots in var/screenshots/.
"""

import io
import re

import pytest
from django.core.management import call_command

from alerts.models import AIAlert
from cases.models import Case, SuspiciousActivityReport
from fraud.services import payment_check
from sunusav.audit_trail import ANALYST_GROUP, COMPLIANCE_GROUP, groups_ensure
from sunusav.models import AnalystAction, Payment
from tests.cases.test_services import HOLD, user
from tests.factories import MemberFactory, MembershipFactory, PaymentFactory, TontineFactory

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 15
AMOUNT = 100_000  # sats each: 1 500 000 sats (900 000 XOF) at stake, above CASE_FOUR_EYES_XOF


def _login(page, base, account):
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", account.username)
    page.fill("#id_password", f"pw-{account.username}-2026")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _text(page, selector="#content") -> str:
    return re.sub(r"[\u00a0\u202f]", " ", page.inner_text(selector))


def test_a_burst_is_one_case_decided_once_approved_and_reported(live_server, browser_page, screenshot):
    call_command("models_sync", verbosity=0)
    groups_ensure()  # a transactional test may follow another that emptied the groups
    analyst = user("awa", ANALYST_GROUP)
    compliance = user("conformite", COMPLIANCE_GROUP)
    member = MemberFactory(display_name="Diégane Sène")
    MembershipFactory(member=member, tontine=TontineFactory(name="Tontine des Almadies"), position=3)
    payments = []
    for _ in range(BURST):
        payment = PaymentFactory(member=member, kind="invoice", amount_sats=AMOUNT, status=Payment.Status.PENDING)
        assert payment_check(payment=payment, features={**HOLD, "user_id": str(member.pk)}).result.decision == "hold"
        payments.append(payment)
    case = Case.objects.get(member=member)
    page, base = browser_page, live_server.url

    _login(page, base, analyst)
    page.goto(f"{base}/admin/cases/case/?responsable=moi")
    assert "Diégane Sène" not in _text(page)
    page.click("#case-counts >> text=Sans responsable")
    assert "Diégane Sène" in _text(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, f"the queue is {width} px wide"
    table, box = page.evaluate(
        "[document.querySelector('#result_list').scrollWidth, document.querySelector('.results').clientWidth]"
    )
    assert table <= box, f"the queue's table is {table} px in a {box} px box: columns are cut"
    screenshot("case-1-queue")

    page.click("text=Diégane Sène")
    page.wait_for_selector("#case-items")
    text = _text(page)
    assert "15 éléments" in text and "1 500 000 sats (900 000 XOF)" in text
    assert "Tontine des Almadies" in text and "Crédit du membre" in text
    assert page.is_visible("#case-shortcuts")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the case page reads without sideways scroll
    width = page.evaluate("document.documentElement.scrollWidth")
    screenshot("case-1b-phone")
    assert width <= 390, f"the case page is {width} px wide on a phone"
    page.goto(f"{base}/admin/cases/case/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the queue is {width} px wide on a phone"
    page.set_viewport_size({"width": 1366, "height": 768})
    page.go_back()
    page.keyboard.press("c")  # the claim shortcut
    page.wait_for_selector("#case-decide")
    assert "demande l'approbation d'un second utilisateur" in _text(page)
    page.select_option("#case-decide select[name=outcome]", "confirmed_fraud")
    page.fill("#case-decide textarea[name=note]", "Quinze factures en une minute depuis un nouvel appareil : SIM swap.")
    screenshot("case-2-decide")
    page.click("#case-decide button[type=submit]")
    page.wait_for_selector("#case-pending")
    assert "quatre yeux" in _text(page, ".messagelist")

    _login(page, base, compliance)
    page.goto(f"{base}/admin/cases/case/?responsable=approbation")
    page.click("text=Diégane Sène")
    page.wait_for_selector("#case-approve")
    page.fill("#case-approve textarea", "Vu avec l'analyste : d'accord.")
    page.click("#case-approve button[value=approve]")
    page.wait_for_selector(".messagelist .success")
    assert "Décision approuvée et appliquée à tous les éléments." in _text(page, ".messagelist")
    screenshot("case-3-approved")

    _login(page, base, analyst)
    page.goto(f"{base}/admin/cases/case/{case.pk}/change/")
    page.click("#case-report")
    page.wait_for_selector("#report-draft")
    page.select_option("#report-draft select[name=typology]", "account_takeover")
    page.fill(
        "#report-draft textarea[name=narrative]",
        "Quinze factures de 100 000 sats en une minute depuis un appareil jamais vu, juste après un changement de SIM.",
    )
    page.click("#report-draft button[type=submit]")
    page.wait_for_selector("#report-downloads")
    screenshot("case-4-report-drafted")

    _login(page, base, compliance)
    report = SuspiciousActivityReport.objects.get(case=case)
    page.goto(f"{base}/admin/cases/suspiciousactivityreport/{report.pk}/change/")
    page.click("#report-approve button[type=submit]")
    page.wait_for_selector(".messagelist .success")
    with page.expect_download() as download:
        page.click("text=Télécharger le PDF")
    pdf = download.value.path().read_bytes()
    screenshot("case-5-report-approved")
    page.context.close()

    from pypdf import PdfReader

    pdf_text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    assert "Déclaration d'opération suspecte (DOS)" in pdf_text and "Diégane Sène" in pdf_text
    assert f"Total ({BURST})" in pdf_text and "1 500 000 sats" in pdf_text and "900 000 XOF" in pdf_text
    assert "prise de contrôle de compte (SIM swap)" in pdf_text and "juste après un changement de SIM" in pdf_text
    case.refresh_from_db()
    report.refresh_from_db()
    assert (case.status, case.outcome, case.decided_by, case.approved_by) == (
        "closed",
        "confirmed_fraud",
        analyst,
        compliance,
    )
    assert Payment.objects.filter(pk__in=[p.pk for p in payments], status="rejected").count() == BURST
    assert AIAlert.objects.filter(user=member, resolved=True, payload__outcome="confirmed_fraud").count() == BURST
    assert (report.status, report.drafted_by, report.approved_by) == ("approved", analyst, compliance)
    steps = set(AnalystAction.objects.filter(target_id=str(case.pk)).values_list("action", flat=True))
    assert {"case_open", "case_assign", "case_propose", "case_approve"} <= steps
