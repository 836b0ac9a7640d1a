"""The alert queue worked item after item: filters survive resolving, and each page offers the next item."""

import datetime as dt
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.alerts.test_admin import CHANGELIST, credit_alert, fraud_alert

pytestmark = pytest.mark.django_db

FILTERS = {"statut": "open", "alert_type__exact": "fraud_suspect"}


@pytest.fixture
def analyst_client(client, analyst_user):
    client.force_login(analyst_user)
    return client


def _page(alert) -> str:
    return (
        reverse("admin:alerts_aialert_change", args=[alert.pk])
        + "?"
        + urlencode({"_changelist_filters": urlencode(FILTERS)})
    )


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def queue():
    """Three open fraud alerts, newest first as the queue sorts them, and alerts the filters leave out."""
    now = timezone.now()
    alerts = [fraud_alert(created_at=now - dt.timedelta(minutes=m)) for m in (1, 2, 3)]
    credit_alert(created_at=now)  # another type
    fraud_alert(created_at=now, resolved=True)  # resolved
    return alerts


def test_the_page_offers_the_next_alert_of_the_same_filtered_queue(analyst_client, queue):
    first, second, third = queue
    response = analyst_client.get(_page(first))
    next_url = response.context["next_url"]
    assert urlsplit(next_url).path == reverse("admin:alerts_aialert_change", args=[second.pk])
    kept = parse_qs(_query(next_url)["_changelist_filters"])
    assert {k: v[0] for k, v in kept.items()} == FILTERS  # the next page keeps the filters
    assert 'id="queue-next"' in response.content.decode()
    # The last of the queue has no next item.
    last = analyst_client.get(_page(third))
    assert last.context["next_url"] is None
    assert "Dernier élément de la liste" in last.content.decode()


def test_resolving_from_the_page_comes_back_to_the_filtered_list(analyst_client, queue):
    first, second, _ = queue
    page = analyst_client.get(_page(first))
    action = page.context["queue_list_url"]
    assert urlsplit(action).path == CHANGELIST and _query(action) == FILTERS
    assert f'action="{action.replace("&", "&amp;")}"' in page.content.decode()  # where the form posts
    response = analyst_client.post(
        action,
        {
            "action": "resolve",
            "_selected_action": [str(first.pk)],
            "apply": "1",
            "outcome": "false_positive",
            "note": "Le membre a confirmé les factures.",
        },
    )
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == CHANGELIST and _query(response["Location"]) == FILTERS
    first.refresh_from_db()
    assert first.resolved
    # Its page now sends on to the first open alert of the queue, which it has left.
    assert urlsplit(analyst_client.get(_page(first)).context["next_url"]).path == reverse(
        "admin:alerts_aialert_change", args=[second.pk]
    )


def test_a_bulk_resolve_comes_back_to_the_filtered_list(analyst_client, queue):
    url = f"{CHANGELIST}?{urlencode(FILTERS)}"
    response = analyst_client.post(
        url,
        {
            "action": "resolve",
            "_selected_action": [str(a.pk) for a in queue[:2]],
            "apply": "1",
            "outcome": "false_positive",
            "note": "Vérifié avec le membre.",
        },
    )
    assert response.status_code == 302
    assert _query(response["Location"]) == FILTERS


def test_the_breadcrumb_goes_back_to_the_filtered_list(analyst_client, queue):
    page = analyst_client.get(_page(queue[0])).content.decode()
    assert f'href="{CHANGELIST}?{urlencode(FILTERS).replace("&", "&amp;")}"' in page
