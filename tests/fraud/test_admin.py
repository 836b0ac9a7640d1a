"""The held-payments work queue: oldest first, the decision's details, release and reject with a reason."""

import datetime as dt
import html
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from alerts.models import AIAlert, Notification
from fraud.services import payment_screen
from sunusav.models import AnalystAction, HeldPayment, Payment
from tests.factories import MemberFactory, PaymentFactory, suspicious_history

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:sunusav_heldpayment_changelist")


def _text(response) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", response.content.decode())


def _messages(response) -> list[str]:
    return [re.sub(r"[\u00a0\u202f]", " ", str(m)) for m in response.context["messages"]]


def held_payment(*, minutes_ago: int = 0) -> Payment:
    """A payment held by the real fraud check (the seed's suspicious example replayed as history)."""
    member = MemberFactory()
    now = suspicious_history(member, now=timezone.now() - dt.timedelta(minutes=minutes_ago))
    payment = PaymentFactory(
        member=member, kind="invoice", amount_sats=1_000_000, device_id="device-9", location="place-9", created_at=now
    )
    assert payment_screen(payment=payment).result.decision == "hold"
    payment.refresh_from_db()
    assert payment.status == "held"
    return payment


def _alert(payment) -> AIAlert:
    return AIAlert.objects.get(alert_type="fraud_suspect", payload__payment_id=str(payment.pk))


def _review(client, action, payments, **data):
    body = {"action": action, "_selected_action": [str(p.pk) for p in payments], **data}
    return client.post(CHANGELIST, body, follow=True)


@pytest.fixture
def analyst_client(client, analyst_user):
    client.force_login(analyst_user)
    return client


def test_the_queue_lists_only_held_payments_oldest_first_with_their_decision(analyst_client):
    newer = held_payment(minutes_ago=5)
    older = held_payment(minutes_ago=60)
    PaymentFactory(status="settled")
    response = analyst_client.get(CHANGELIST)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [older, newer]
    text = _text(response)
    alert = _alert(older)
    assert f"{alert.payload['fraud_score']:.3f}".replace(".", ",") in text  # the French decimal comma
    assert "Rafale de factures" in text  # a reason, in French
    assert alert.payload["model_version"] not in text  # on the payment's page, not on each row
    assert "1 000 000 sats (600 000 XOF)" in text


def test_the_page_shows_the_decision_and_the_members_recent_payments(analyst_client):
    payment = held_payment()
    page = _text(analyst_client.get(reverse("admin:sunusav_heldpayment_change", args=[payment.pk])))
    assert 'id="hold-decision"' in page and "Rafale de factures" in page
    assert 'id="recent-payments"' in page and page.count("2 000 sats (1 200 XOF)") == 9  # the member's history
    assert 'id="review-payment"' in page and 'value="release"' in page and 'value="reject"' in page
    assert 'name="status"' not in page and 'name="_save"' not in page  # nobody edits a payment here


def test_release_from_the_page_sets_it_on_its_way_resolves_notifies_and_audits(
    analyst_client, analyst_user, django_capture_on_commit_callbacks
):
    payment = held_payment()
    response = _review(analyst_client, "release", [payment], apply="1", reason="Client joint, achat de stock")
    assert "1 paiement libéré." in _messages(response)
    payment.refresh_from_db()
    assert payment.status == "released"
    alert = _alert(payment)
    assert alert.resolved and alert.payload["outcome"] == "false_positive"
    assert alert.payload["resolved_by"] == analyst_user.username
    assert Notification.objects.filter(kind="payment_released", member=payment.member).count() == 1
    release = AnalystAction.objects.get(action="release")
    assert (release.actor, release.target_type, release.target_id) == (analyst_user, "payment", str(payment.pk))
    assert release.before == {"status": "held"}
    assert release.after == {"status": "released", "alerts_resolved": [str(alert.pk)]}
    assert release.note == "Client joint, achat de stock"
    assert AnalystAction.objects.filter(action="resolve", target_id=str(alert.pk)).count() == 1
    assert not HeldPayment.objects.filter(pk=payment.pk).exists()  # out of the queue


def test_reject_many_through_the_confirmation_page(analyst_client):
    payments = [held_payment(minutes_ago=10), held_payment()]
    confirm = _review(analyst_client, "reject", payments)
    assert confirm.status_code == 200
    assert "admin/bulk_action_confirmation.html" in [t.name for t in confirm.templates]
    assert Payment.objects.filter(status="held").count() == 2  # the first click only asks

    response = _review(analyst_client, "reject", payments, apply="1", reason="Fraude confirmée par l'opérateur")
    assert "2 paiements rejetés." in _messages(response)
    for payment in payments:
        payment.refresh_from_db()
        assert payment.status == "rejected"
        assert _alert(payment).payload["outcome"] == "confirmed_fraud"
    assert AnalystAction.objects.filter(action="reject").count() == 2
    assert not Notification.objects.filter(kind="payment_released").exists()


def test_a_missing_reason_changes_nothing(analyst_client):
    payment = held_payment()
    response = _review(analyst_client, "release", [payment], apply="1", reason="   ")
    assert "reason" in response.context["form"].errors
    payment.refresh_from_db()
    assert payment.status == "held" and not _alert(payment).resolved
    assert not AnalystAction.objects.exclude(target_type="case").exists()
    assert not Notification.objects.filter(kind="payment_released").exists()


def test_a_second_analyst_is_told_who_acted_and_nothing_doubles(client, analyst_user, risk_groups):
    payment = held_payment()
    second = User.objects.create_user("analyste-2", password="x", is_staff=True)
    second.groups.add(risk_groups["analyst"])
    client.force_login(analyst_user)
    _review(client, "release", [payment], apply="1", reason="ok")
    released_at = AnalystAction.objects.get(action="release").created_at

    client.force_login(second)
    response = _review(client, "reject", [payment], apply="1", reason="non")
    hhmm = timezone.localtime(released_at).strftime("%H:%M")
    assert any(f"déjà libéré par {analyst_user.username} à {hhmm}" in m for m in _messages(response))
    payment.refresh_from_db()
    assert payment.status == "released"
    assert AnalystAction.objects.filter(action__in=["release", "reject"]).count() == 1
    assert _alert(payment).payload["outcome"] == "false_positive"
    assert Notification.objects.filter(kind="payment_released").count() == 1

    # Opening the page of a payment no longer held says the same, instead of "does not exist".
    page = client.get(reverse("admin:sunusav_heldpayment_change", args=[payment.pk]), follow=True)
    assert page.redirect_chain[-1][0] == CHANGELIST
    assert any(f"déjà libéré par {analyst_user.username}" in m for m in _messages(page))


def test_staff_without_the_group_gets_403_and_cannot_review(client):
    payment = held_payment()
    client.force_login(User.objects.create_user("stagiaire", password="x", is_staff=True))
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:sunusav_heldpayment_change", args=[payment.pk])).status_code == 403
    response = client.post(
        CHANGELIST, {"action": "release", "_selected_action": [str(payment.pk)], "apply": "1", "reason": "x"}
    )
    assert response.status_code == 403
    payment.refresh_from_db()
    assert payment.status == "held" and not AnalystAction.objects.exclude(target_type="case").exists()


def test_viewing_payments_is_not_enough_to_release_them(client):
    payment = held_payment()
    viewer = User.objects.create_user("lecteur", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="sunusav", codename="view_payment"))
    client.force_login(viewer)
    assert client.get(CHANGELIST).status_code == 200
    page = client.get(reverse("admin:sunusav_heldpayment_change", args=[payment.pk])).content.decode()
    assert 'id="review-payment"' not in page
    _review(client, "release", [payment], apply="1", reason="x")
    payment.refresh_from_db()
    assert payment.status == "held" and not AnalystAction.objects.exclude(target_type="case").exists()


@pytest.mark.django_db(transaction=True)
def test_simultaneous_reviews_act_once(risk_groups):
    from fraud.services import PaymentNotHeld, payment_review
    from tests.alerts.test_admin import _race

    payment = held_payment()
    users = [User.objects.create_user(f"analyste-{i}", password="x", is_staff=True) for i in range(4)]
    actions = ["release", "reject", "release", "reject"]
    results = _race(
        [
            lambda u=u, a=a: payment_review(payment_id=payment.pk, action=a, actor=u, reason="vu")
            for u, a in zip(users, actions, strict=True)
        ]
    )
    assert sum(isinstance(r, Payment) for r in results) == 1, results
    assert sum(isinstance(r, PaymentNotHeld) for r in results) == 3, results
    assert AnalystAction.objects.filter(action__in=["release", "reject"]).count() == 1
    assert AnalystAction.objects.filter(action="resolve").count() == 1
    assert Notification.objects.filter(kind="payment_released").count() <= 1


def test_search_by_member_name_member_id_and_payment_id(analyst_client):
    payment = held_payment()
    other = held_payment()
    payment.member.display_name = "Awa Ndiaye"
    payment.member.save()

    def found(term):
        return set(analyst_client.get(CHANGELIST, {"q": term}).context["cl"].result_list)

    assert found("ndiaye") == {payment}
    assert found(str(payment.member_id)) == {payment}
    assert found(str(other.pk)) == {other}
    assert found("") == {payment, other}


# --- The demo world's ground truth ------------------------------------------------------------------

GROUND_TRUTH_WORDS = ("vérité terrain", "Motif de fraude", "paiements répétés", "rapid_repeat")


def _ground_truth_pages(payment) -> list[str]:
    return [
        reverse("admin:sunusav_payment_change", args=[payment.pk]),
        reverse("admin:sunusav_payment_changelist"),
        reverse("admin:sunusav_heldpayment_change", args=[payment.pk]),
        CHANGELIST,
    ]


@pytest.mark.parametrize("debug", [False, True])
def test_the_ground_truth_is_hidden_from_analysts_even_with_debug_on(analyst_client, settings, debug):
    settings.DEBUG = debug
    payment = PaymentFactory(status="held", is_fraud_label=True, fraud_pattern="rapid_repeat")
    for url in _ground_truth_pages(payment):
        response = analyst_client.get(url)
        assert response.status_code == 200, url
        text = _text(response)
        assert [w for w in GROUND_TRUTH_WORDS if w.lower() in text.lower()] == [], url


def test_the_ground_truth_is_hidden_from_superusers_without_debug(client, settings):
    settings.DEBUG = False
    client.force_login(User.objects.create_superuser("chef", password="x"))
    payment = PaymentFactory(status="held", is_fraud_label=True, fraud_pattern="rapid_repeat")
    for url in _ground_truth_pages(payment):
        text = _text(client.get(url))
        assert [w for w in GROUND_TRUTH_WORDS if w.lower() in text.lower()] == [], url


def test_a_superuser_with_debug_on_sees_the_ground_truth_read_only(client, settings):
    settings.DEBUG = True
    client.force_login(User.objects.create_superuser("chef", password="x"))
    payment = PaymentFactory(status="held", is_fraud_label=True, fraud_pattern="rapid_repeat")
    for url in (
        reverse("admin:sunusav_payment_change", args=[payment.pk]),
        reverse("admin:sunusav_heldpayment_change", args=[payment.pk]),
    ):
        text = _text(client.get(url))
        assert "Fraude (vérité terrain)" in text and "Motif de fraude (démo)" in text, url
        assert "paiements répétés" in text and "rapid_repeat" not in text, url  # the pattern by its name
        assert 'name="is_fraud_label"' not in text and 'name="fraud_pattern"' not in text  # never typed in
    # Saving the payment page leaves the ground truth as it was.
    data = {"member": payment.member_id, "kind": "payment", "amount_sats": 5000, "status": "held"}
    data.update(device_id="d", location="l", created_at_0="01/12/2026", created_at_1="10:00", check_input_hash="")
    client.post(reverse("admin:sunusav_payment_change", args=[payment.pk]), data)
    payment.refresh_from_db()
    assert (payment.is_fraud_label, payment.fraud_pattern) == (True, "rapid_repeat")


def test_the_queue_row_is_short_reasons_cut_with_their_sentences_in_a_title(analyst_client):
    payment = held_payment()
    alert = _alert(payment)
    sentences = [reason["fr"] for reason in alert.payload["reasons"]]
    text = _text(analyst_client.get(CHANGELIST))
    cell = re.search(r'<td class="field-reasons">(.*?)</td>', text, re.S).group(1)
    assert "<ul" not in cell
    title = re.search(r'title="([^"]*)"', cell).group(1)
    for sentence in sentences:
        assert html.escape(sentence, quote=True).split(" (")[0] in title
    shown = re.sub(r"<[^>]+>", "", cell).strip()
    assert len(shown) <= 45, shown
    score = re.search(r'<td class="field-fraud_score">(.*?)</td>', text, re.S).group(1)
    assert "risk-badge-hold" in score and alert.payload["model_version"] not in score


@pytest.mark.parametrize("url", [reverse("admin:sunusav_payment_changelist"), CHANGELIST])
@pytest.mark.parametrize("lookup", ["is_fraud_label__exact=1", "is_fraud_label=True", "fraud_pattern=rapid_repeat"])
def test_the_lists_cannot_be_filtered_on_the_ground_truth_either(analyst_client, settings, url, lookup):
    """A filter typed in the address bar would sort the queue by the answer key: refused, nothing listed."""
    settings.DEBUG = False
    PaymentFactory(status="held", is_fraud_label=True, fraud_pattern="rapid_repeat")
    PaymentFactory(status="held", is_fraud_label=False)
    response = analyst_client.get(f"{url}?{lookup}")
    assert response.status_code == 400
    assert "cl" not in (response.context or {})


def test_a_superuser_with_debug_on_may_filter_on_the_ground_truth(client, settings):
    settings.DEBUG = True
    client.force_login(User.objects.create_superuser("chef", password="x"))
    fraud = PaymentFactory(status="held", is_fraud_label=True)
    PaymentFactory(status="held", is_fraud_label=False)
    response = client.get(f"{CHANGELIST}?is_fraud_label__exact=1")
    assert list(response.context["cl"].result_list) == [fraud]
