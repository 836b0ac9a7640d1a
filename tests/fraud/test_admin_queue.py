"""The held-payment queue worked item after item: filters survive releasing and rejecting, and "Suivant"."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.urls import reverse

from sunusav.models import Payment
from tests.fraud.test_admin import CHANGELIST, held_payment

pytestmark = pytest.mark.django_db

FILTERS = {"kind__exact": "invoice"}


@pytest.fixture
def analyst_client(client, analyst_user):
    client.force_login(analyst_user)
    return client


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _page(payment) -> str:
    return (
        reverse("admin:sunusav_heldpayment_change", args=[payment.pk])
        + "?"
        + urlencode({"_changelist_filters": urlencode(FILTERS)})
    )


def test_release_from_the_page_returns_to_the_filtered_list_and_the_page_offers_the_next(analyst_client):
    older = held_payment(minutes_ago=30)
    newer = held_payment(minutes_ago=10)
    page = analyst_client.get(_page(older))
    assert urlsplit(page.context["next_url"]).path == reverse("admin:sunusav_heldpayment_change", args=[newer.pk])
    action = page.context["queue_list_url"]
    assert f'action="{action.replace("&", "&amp;")}"' in page.content.decode()
    response = analyst_client.post(
        action,
        {
            "action": "release",
            "_selected_action": [str(older.pk)],
            "apply": "1",
            "reason": "Le membre a confirmé l'achat.",
        },
    )
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == CHANGELIST and _query(response["Location"]) == FILTERS
    older.refresh_from_db()
    assert older.status == Payment.Status.RELEASED


def test_a_bulk_reject_returns_to_the_filtered_list(analyst_client):
    payment = held_payment()
    response = analyst_client.post(
        f"{CHANGELIST}?{urlencode(FILTERS)}",
        {"action": "reject", "_selected_action": [str(payment.pk)], "apply": "1", "reason": "Fraude avérée."},
    )
    assert response.status_code == 302
    assert _query(response["Location"]) == FILTERS
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REJECTED
