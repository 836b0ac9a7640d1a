"""Issue 18: the back-office works under its Content-Security-Policy in a real browser (no violation reported).

Chromium (Debian's package) driven by Playwright against the live server;
every `securitypolicyviolation` event and CSP console message is collected on
each page an analyst visits.
"""

import os
import shutil

import pytest
from django.urls import reverse

from tests.factories import MemberFactory, TontineFactory

pytestmark = pytest.mark.django_db(transaction=True)
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def page(monkeypatch):
    if not CHROMIUM:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(locale="fr-FR")
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.console_messages_seen = []
        page.on("console", lambda message: page.console_messages_seen.append(message.text))
        try:
            yield page
        finally:
            context.close()
            browser.close()


def test_back_office_pages_raise_no_csp_violation(live_server, analyst_user, page):
    member = MemberFactory(display_name="Awa Diop")
    tontine = TontineFactory()
    base = live_server.url
    page.goto(f"{base}{reverse('admin:login')}")
    page.fill("#id_username", analyst_user.username)
    page.fill("#id_password", f"pw-{analyst_user.username}-2026")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    violations = {}
    for url in [
        "/admin/",
        "/admin/dashboard/",
        "/admin/alerts/aialert/",
        "/admin/sunusav/heldpayment/",
        reverse("admin:sunusav_member_change", args=[member.pk]),
        reverse("admin:sunusav_tontine_change", args=[tontine.pk]),
    ]:
        response = page.goto(f"{base}{url}")
        assert response.status == 200, url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
        found = page.evaluate("window.__cspViolations")
        if found:
            violations[url] = found
    csp_console = [text for text in page.console_messages_seen if "Content Security Policy" in text]
    assert not violations and not csp_console, (violations, csp_console)
