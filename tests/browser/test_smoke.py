import pytest


@pytest.mark.django_db(transaction=True)
def test_analyst_logs_in(live_server, browser_page, screenshot, analyst_user):
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", analyst_user.username)
    page.fill("#id_password", f"pw-{analyst_user.username}-2026")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    assert analyst_user.username in page.inner_text("#user-tools").lower()
    assert screenshot("smoke-admin-index").stat().st_size > 5000
