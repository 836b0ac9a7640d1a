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
