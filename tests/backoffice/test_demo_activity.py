"""`demo_activity` fills the analysts' queues of a fresh demo world with the product's own jobs, once."""

from io import StringIO

import pytest
from django.core.management import call_command

from alerts.models import AIAlert
from sunusav.models import AnalystAction, Member, Payment

pytestmark = pytest.mark.django_db


def test_scores_offers_and_screens_once():
    call_command("seed_demo", "--members", "300", "--seed", "7", stdout=StringIO())
    call_command("demo_activity", "--offers", "40", stdout=StringIO())
    assert not Member.objects.filter(credit_score__isnull=True).exists()
    offers = AIAlert.objects.filter(alert_type="credit_offer").count()
    assert 0 < offers <= 40
    held = Payment.objects.filter(status="held").count()
    # Every hold has its alert (a review has an alert and no hold).
    alerted = {a.payload.get("payment_id") for a in AIAlert.objects.filter(alert_type="fraud_suspect")}
    assert {str(pk) for pk in Payment.objects.filter(status="held").values_list("pk", flat=True)} <= alerted
    before = (AIAlert.objects.count(), held)
    out = StringIO()
    call_command("demo_activity", stdout=out)
    assert "already scored" in out.getvalue()
    assert (AIAlert.objects.count(), Payment.objects.filter(status="held").count()) == before
    # The system acted (a hold opens its case, actor None), no analyst did.
    assert not AnalystAction.objects.filter(actor__isnull=False).exists()
