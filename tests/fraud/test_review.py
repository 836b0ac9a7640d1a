"""Analysts release or reject held payments: once, audited, alerts resolved, member told of the outcome."""

import pytest
from django.contrib.auth.models import User

from alerts.models import AIAlert, AIMetric, Notification
from fraud.services import PaymentNotHeld, payment_review, payment_screen
from tests.factories import MemberFactory, PaymentFactory, suspicious_history

pytestmark = pytest.mark.django_db


def _user(name: str) -> User:
    return User.objects.create_user(name, password="x", is_staff=True)


def _held_payment():
    member = MemberFactory()
    now = suspicious_history(member)
    payment = PaymentFactory(
        member=member, kind="invoice", amount_sats=1_000_000, device_id="device-9", location="place-9", created_at=now
    )
    assert payment_screen(payment=payment).result.decision == "hold"
    payment.refresh_from_db()
    assert payment.status == "held"
    return payment


def test_release_sets_it_on_its_way_resolves_the_alert_audits_and_notifies():
    payment = _held_payment()
    analyst = _user("analyste")
    released = payment_review(payment_id=payment.pk, action="release", actor=analyst, reason="client joint")
    assert released.status == "released"
    alert = AIAlert.objects.get(alert_type="fraud_suspect", payload__payment_id=str(payment.pk))
    assert alert.resolved and alert.resolved_at is not None
    assert alert.payload["outcome"] == "false_positive" and alert.payload["resolved_by"] == "analyste"
    audit = AIMetric.objects.get(metric_key="payment_review")
    expected = {"action": "release", "actor": f"user:{analyst.pk}", "before": "held", "after": "released"}
    assert {key: audit.meta[key] for key in expected} == expected
    assert Notification.objects.filter(kind="payment_released", member=payment.member).count() == 1


def test_a_second_analyst_gets_a_clear_refusal_not_a_double_action():
    payment = _held_payment()
    payment_review(payment_id=payment.pk, action="reject", actor=_user("a"), reason="fraude confirmée")
    with pytest.raises(PaymentNotHeld) as refused:
        payment_review(payment_id=payment.pk, action="release", actor=_user("b"), reason="?")
    assert (refused.value.status, refused.value.reviewed_by) == ("rejected", "a")
    payment.refresh_from_db()
    assert payment.status == "rejected"
    assert AIMetric.objects.filter(metric_key="payment_review").count() == 1
    assert not Notification.objects.filter(kind="payment_released").exists()


def test_a_released_payment_is_never_held_again():
    payment = _held_payment()
    payment_review(payment_id=payment.pk, action="release", actor=_user("a"), reason="ok")
    payment_screen(payment=payment)
    payment.refresh_from_db()
    assert payment.status == "released"


# What a member is told of a rejection: the same neutral words whatever the reason (no tipping-off, docs/CENTIF.md).
SUSPICION_WORDS = ["fraud", "suspect", "soupçon", "centif", "déclar", "report", "enquête", "investigat", "bloqu"]


@pytest.mark.parametrize("expired", [False, True])
def test_a_rejection_tells_the_member_in_neutral_words_only(expired):
    payment = PaymentFactory(status="held", amount_sats=2_000)
    reason = "fraude confirmée, déclaration CENTIF en préparation"
    actor = None if expired else _user("analyste")
    payment_review(payment_id=payment.pk, action="reject", actor=actor, reason=reason, expired=expired)
    (notification,) = Notification.objects.filter(member=payment.member)
    assert (notification.kind, notification.dedupe_key) == ("payment_rejected", f"payment_rejected:{payment.pk}")
    assert notification.message_fr.startswith("Votre paiement de 2000 sats n'a pas pu aboutir.")
    assert notification.message_en.startswith("Your payment of 2000 sats could not be completed.")
    told = f"{notification.message_fr} {notification.message_en} {notification.payload}".lower()
    assert not [word for word in SUSPICION_WORDS if word in told], told
    assert notification.payload == {"amount_sats": 2_000, "payment_id": str(payment.pk)}  # never the reason
