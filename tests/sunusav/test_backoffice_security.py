"""Issue 18: the back-office's Content-Security-Policy, and sessions of accounts django-axes has locked."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fast_logins(settings):
    from django.core.cache import cache

    from sunusav import sessions

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # axes' failed attempts live there
    sessions._ENDED_RECENTLY.clear()  # each test locks the same username again
    yield
    cache.clear()
    sessions._ENDED_RECENTLY.clear()


def _directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


# --- Content-Security-Policy -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/admin/login/", "/admin/", "/admin/sunusav/member/", "/admin/alerts/aialert/", "/admin/dashboard/"]
)
def test_admin_pages_send_a_strict_content_security_policy(admin_client, url):
    response = admin_client.get(url, follow=True)
    assert response.status_code == 200, url
    policy = _directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no CDN
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert not any("http" in source or source == "*" for sources in policy.values() for source in sources)


def test_the_login_page_of_an_anonymous_visitor_has_the_policy_too():
    response = Client().get(reverse("admin:login"))
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_api_answers_and_the_swagger_page_are_left_alone(api_client):
    # JSON for a service, and drf-spectacular's Swagger UI starts with an inline script.
    assert "Content-Security-Policy" not in api_client.get("/api/fraud/health")
    assert "Content-Security-Policy" not in Client().get("/api/docs/")


def test_no_template_has_an_inline_script():
    """The policy allows only scripts from this site: a template with an inline script would break."""
    inline = []
    for path in (ROOT / "templates").rglob("*.html"):
        for tag in re.findall(r"<script\b[^>]*>", path.read_text(encoding="utf-8")):
            if "src=" not in tag:
                inline.append(str(path.relative_to(ROOT)))
        if re.search(r"\son[a-z]+\s*=", path.read_text(encoding="utf-8")):
            inline.append(f"{path.relative_to(ROOT)} (event handler attribute)")
    assert not inline


# --- Locked-out accounts ----------------------------------------------------------------------


def _fail_logins(username: str, times: int) -> list[int]:
    attacker = Client()
    return [
        attacker.post(reverse("admin:login"), {"username": username, "password": "wrong"}).status_code
        for _ in range(times)
    ]


def _sessions_of(user) -> int:
    return sum(1 for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk))


def test_an_open_session_ends_when_axes_locks_the_username(analyst_user):
    analyst = Client()
    assert (
        analyst.post(reverse("admin:login"), {"username": "analyste", "password": "pw-analyste-2026"}).status_code
        == 302
    )
    assert analyst.get("/admin/").status_code == 200
    assert _sessions_of(analyst_user) == 1

    codes = _fail_logins("analyste", settings.AXES_FAILURE_LIMIT)
    assert codes[-1] == 429  # locked
    assert _sessions_of(analyst_user) == 0  # ended at the lock, before the analyst's next click

    response = analyst.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert "_auth_user_id" not in analyst.session
    # Logging in again is refused while the lock lasts.
    relogin = analyst.post(reverse("admin:login"), {"username": "analyste", "password": "pw-analyste-2026"})
    assert relogin.status_code == 429


def test_every_open_session_of_the_locked_user_ends(analyst_user):
    """Two browsers: both sessions end."""
    browsers = [Client(), Client()]
    for browser in browsers:
        browser.force_login(analyst_user)
        assert browser.get("/admin/").status_code == 200
    _fail_logins("analyste", settings.AXES_FAILURE_LIMIT)
    assert _sessions_of(analyst_user) == 0
    assert [browser.get("/admin/").status_code for browser in browsers] == [302, 302]


def test_other_analysts_sessions_are_untouched(analyst_user, risk_admin_user):
    other = Client()
    other.force_login(risk_admin_user)
    _fail_logins("analyste", settings.AXES_FAILURE_LIMIT)
    assert other.get("/admin/").status_code == 200


def test_failures_below_the_limit_leave_the_session_alone(analyst_user):
    analyst = Client()
    analyst.force_login(analyst_user)
    _fail_logins("analyste", settings.AXES_FAILURE_LIMIT - 1)
    assert analyst.get("/admin/").status_code == 200
    assert _sessions_of(analyst_user) == 1
