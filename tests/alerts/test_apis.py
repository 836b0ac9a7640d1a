"""GET /api/alerts: token required, filters, cursor pages."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import AIAlert
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _alerts(member, n, *, resolved=False):
    now = timezone.now()
    return [
        AIAlert.objects.create(
            user=member,
            alert_type="fraud_suspect",
            payload={"payment_id": str(uuid.uuid4())},
            resolved=resolved,
            created_at=now - timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_refused_without_token(anon_client):
    assert anon_client.get("/api/alerts").status_code == 401


def test_pages_of_a_members_open_alerts(api_client):
    member, other = MemberFactory(), MemberFactory()
    opened = _alerts(member, 5)
    _alerts(member, 2, resolved=True)
    _alerts(other, 3)
    seen, url = [], f"/api/alerts?member={member.pk}&resolved=false&limit=2"
    while url:
        body = api_client.get(url).json()
        assert len(body["results"]) <= 2
        seen += body["results"]
        url = body["next"]
    assert [a["id"] for a in seen] == [str(a.pk) for a in opened]  # newest first, none twice, none missing
    assert {a["member_id"] for a in seen} == {str(member.pk)} and not any(a["resolved"] for a in seen)


def test_bad_filters_are_400(api_client):
    assert api_client.get("/api/alerts?member=nope").status_code == 400
    assert api_client.get("/api/alerts?colour=red").status_code == 400


@pytest.mark.parametrize("value", ["1", "0", "yes", "on", "True", "FALSE", ""])
def test_resolved_is_only_true_or_false(api_client, value):
    """The schema declares "true" / "false": DRF's BooleanField would also take "1", "yes", "on"."""
    response = api_client.get(f"/api/alerts?resolved={value}")
    assert response.status_code == 400 and "resolved" in response.json()


def test_resolved_true_lists_resolved_alerts_only(api_client):
    member = MemberFactory()
    _alerts(member, 2)
    closed = _alerts(member, 1, resolved=True)
    body = api_client.get(f"/api/alerts?member={member.pk}&resolved=true").json()
    assert [a["id"] for a in body["results"]] == [str(closed[0].pk)]


@pytest.mark.parametrize("value", ["0", "201", "-1", "abc", "", "1.0", "٣"])
def test_limit_outside_1_to_200_is_400(api_client, value):
    """DRF's cursor pagination falls back to the default page size (or clamps) without a word."""
    response = api_client.get(f"/api/alerts?limit={value}")
    assert response.status_code == 400 and "limit" in response.json()


def test_limit_200_is_a_page_of_200(api_client):
    member = MemberFactory()
    _alerts(member, 3)
    assert len(api_client.get(f"/api/alerts?member={member.pk}&limit=200").json()["results"]) == 3


@pytest.mark.parametrize("position", ["garbage", "2024-13-01 00:00:00+00:00", "2024-01-01 00:00:00", "\x00"])
def test_cursor_with_a_bad_position_is_404_not_500(api_client, position):
    """A well-encoded cursor whose position is no timestamp used to reach the database filter (a 500)."""
    from base64 import b64encode
    from urllib.parse import urlencode

    cursor = b64encode(urlencode({"p": position}).encode()).decode()
    response = api_client.get("/api/alerts", {"cursor": cursor})
    assert response.status_code == 404, response.content


def test_bad_cursor_is_404(api_client):
    assert api_client.get("/api/alerts?cursor=not-a-cursor").status_code == 404
