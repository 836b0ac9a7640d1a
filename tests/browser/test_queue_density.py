"""The two work queues in a real Chromium at 1366×768, as the issue's analyst saw them.

The alert list showed about 2½ alerts per screen (reasons over 5 to 8 lines,
the model version on each row) and the held-payment list was wider than the
screen: now each row is one line and neither list scrolls sideways.
"""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import AIAlert
from sunusav.models import Payment
from tests.factories import MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)

REASONS = [
    {"id": "invoice_burst", "fr": "Rafale de factures : 14 factures en une minute.", "en": "Invoice burst."},
    {
        "id": "new_device_location_unusual_amount",
        "fr": "Nouvel appareil et nouveau lieu avec un montant inhabituel (1000000 sats).",
        "en": "New device and place with an unusual amount.",
    },
    {"id": "anomaly", "fr": "Score d'anomalie du modèle (forêt d'isolement).", "en": "Anomaly score."},
]


def _queue(rows: int) -> None:
    for i in range(rows):
        member = MemberFactory(display_name=f"Mame Diarra Ndèye Coumba Diop {i}")
        payment = PaymentFactory(
            member=member,
            status=Payment.Status.HELD,
            kind="invoice",
            amount_sats=1_000_000,
            expires_at=timezone.now() + dt.timedelta(hours=2, minutes=5),
        )
        AIAlert.objects.create(
            user=member,
            alert_type="fraud_suspect",
            created_at=timezone.now(),
            payload={
                "payment_id": str(payment.pk),
                "fraud_score": 0.9731,
                "decision": "hold",
                "reasons": REASONS,
                "model_version": "fraud-2026-12-01T18:38:12.123456+00:00-3f2a9c1d",
                "amount_sats": 1_000_000,
            },
        )


def _login(page, base, user):
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}-2026")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _layout(page) -> dict:
    return page.evaluate(
        """() => {
            const rows = [...document.querySelectorAll('#result_list tbody tr')];
            const heights = rows.map(r => r.getBoundingClientRect().height);
            const results = document.querySelector('#changelist .results');
            return {
                scrollWidth: document.documentElement.scrollWidth,
                hiddenColumns: results.scrollWidth - results.clientWidth,
                rowsOnScreen: rows.filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length,
                tallest: Math.max(...heights),
            };
        }"""
    )


def test_both_queues_fit_1366_pixels_one_line_per_row(live_server, analyst_user, browser_page, screenshot):
    _queue(25)
    page, base = browser_page, live_server.url
    page.set_viewport_size({"width": 1366, "height": 768})
    _login(page, base, analyst_user)

    page.goto(f"{base}/admin/alerts/aialert/")
    alerts = _layout(page)
    screenshot("queue-alerts-1366")
    text = page.inner_text("#result_list")
    assert "fraud-2026-12-01" not in text  # the model version is on the alert's page only
    assert "Rafale de factures" in text and "+2" in text
    title = page.get_attribute("#result_list td.field-reason_short span", "title")
    assert "Score d'anomalie du modèle" in title  # every sentence on hover

    page.goto(f"{base}/admin/sunusav/heldpayment/")
    held = _layout(page)
    screenshot("queue-held-1366")
    title = page.get_attribute("#result_list td.field-reasons span", "title")
    assert "Nouvel appareil et nouveau lieu" in title

    page.context.close()
    assert alerts["scrollWidth"] <= 1366, alerts
    assert held["scrollWidth"] <= 1366, held
    assert alerts["hiddenColumns"] <= 0, alerts  # no column cut off by the list's own scroll box
    assert held["hiddenColumns"] <= 0, held
    assert alerts["tallest"] < 40, alerts  # one line of text per alert
    assert held["tallest"] < 40, held
    assert alerts["rowsOnScreen"] >= 10, alerts


def test_an_analyst_goes_from_one_alert_to_the_next_and_back_to_the_same_filtered_list(
    live_server, analyst_user, browser_page, screenshot
):
    _queue(3)
    alerts = list(AIAlert.objects.order_by("-created_at", "-pk"))
    page, base = browser_page, live_server.url
    _login(page, base, analyst_user)
    page.goto(f"{base}/admin/alerts/aialert/?statut=open&alert_type__exact=fraud_suspect")
    page.click(f"#result_list a[href*='{alerts[0].pk}']")
    page.wait_for_selector("#queue-next")
    screenshot("queue-alert-page")
    page.click("#queue-next")
    page.wait_for_selector("#resolve-alert")
    url = page.url
    page.select_option("#id_outcome", "false_positive")
    page.fill("#id_note", "Factures confirmées par le membre.")
    page.click("#resolve-alert input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    landed = page.url
    page.context.close()
    assert str(alerts[1].pk) in url and "_changelist_filters" in url
    assert (
        "/admin/alerts/aialert/?" in landed and "statut=open" in landed and "alert_type__exact=fraud_suspect" in landed
    )
    alerts[1].refresh_from_db()
    assert alerts[1].resolved
