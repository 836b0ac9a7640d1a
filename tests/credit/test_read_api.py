"""GET /api/credit/members/<id>/score: the stored score, band, reasons and model version."""

import uuid

import pytest

from alerts.services import metric_record
from credit.services import score_save
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_refused_without_token(anon_client):
    assert anon_client.get(f"/api/credit/members/{uuid.uuid4()}/score").status_code == 401


def test_unknown_member_is_404(api_client):
    assert api_client.get(f"/api/credit/members/{uuid.uuid4()}/score").status_code == 404


def test_never_scored_member_has_nulls(api_client):
    member = MemberFactory(credit_score=None)
    body = api_client.get(f"/api/credit/members/{member.pk}/score").json()
    assert body["score"] is None and body["band"] is None and body["reasons"] == []


def test_stored_score_with_the_latest_decisions_reasons(api_client):
    member = MemberFactory()
    metric_record(member=member, key="credit_score", value=0.9, meta={"model_version": "old", "reasons": []})
    score_save(
        member=member,
        score=0.412,
        confidence=0.8,
        model_version="credit-v2",
        meta={"band": "E", "reasons": ["LOW_PUNCTUALITY"]},
    )
    body = api_client.get(f"/api/credit/members/{member.pk}/score").json()
    assert body["score"] == pytest.approx(0.412) and body["band"] == "E"  # the band of the stored score
    assert body["model_version"] == "credit-v2" and body["confidence"] == pytest.approx(0.8)
    assert body["updated_at"] is not None
    assert body["reasons"][0]["code"] == "LOW_PUNCTUALITY" and body["reasons"][0]["fr"]


@pytest.mark.parametrize("member_id", ["nope", "null,null", "1"])
def test_a_non_uuid_member_is_a_json_404(api_client, member_id):
    """The route is <uuid:>: no view matches, and Django's 404 page was HTML, which the schema does not declare."""
    response = api_client.get(f"/api/credit/members/{member_id}/score")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_404_outside_the_api_is_still_the_html_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
