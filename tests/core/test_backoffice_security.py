"""Issue 18: the back-office's Content-Security-Policy."""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


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
