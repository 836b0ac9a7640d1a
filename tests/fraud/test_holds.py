"""Holds on Lightning invoices expire with the invoice: unreviewed, they take HOLD_EXPIRY_DEFAULT exactly once."""

import datetime as dt
import re
import uuid
from importlib import import_module

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone, translation

from alerts.models import AIAlert, AIMetric, Notification
from fraud.admin import expiry_text
from fraud.holds import holds_expire
from fraud.services import PaymentNotHeld, payment_review, payment_screen
from sunusav.models import AnalystAction, Payment
from tests.factories import MemberFactory, PaymentFactory, suspicious_history

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:sunusav_heldpayment_changelist")


def _text(response) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", response.content.decode())


def held_invoice(*, expires_in: dt.timedelta | None, minutes_ago: int = 0) -> Payment:
    """An invoice held by the real fraud check, whose invoice expires `expires_in` from now (None: no expiry)."""
    member = MemberFactory()
    now = suspicious_history(member, now=timezone.now() - dt.timedelta(minutes=minutes_ago))
    payment = PaymentFactory(
        member=member, kind="invoice", amount_sats=1_000_000, device_id="device-9", location="place-9", created_at=now
    )
    assert payment_screen(payment=payment).result.decision == "hold"
    expires_at = None if expires_in is None else timezone.now() + expires_in
    Payment.objects.filter(pk=payment.pk).update(expires_at=expires_at)
    payment.refresh_from_db()
    assert payment.status == "held"
    return payment


def _alert(payment) -> AIAlert:
    return AIAlert.objects.get(alert_type="fraud_suspect", payload__payment_id=str(payment.pk))


def _actions(payment, *actions) -> list[AnalystAction]:
    return list(AnalystAction.objects.filter(target_type="payment", target_id=str(payment.pk), action__in=actions))


# --- the payment events API -------------------------------------------------------------------------


def _event(member, **extra):
    return {
        "payment_id": str(uuid.uuid4()),
        "user_id": str(member.pk),
        "kind": "invoice",
        "amount_sats": 4_000,
        "device_id": "device-1",
        "location": "dakar",
        **extra,
    }


def test_the_events_api_stores_the_invoices_expiry(api_client):
    member = MemberFactory()
    expires_at = (timezone.now() + dt.timedelta(minutes=30)).replace(microsecond=0)
    body = _event(member, expires_at=expires_at.isoformat())
    response = api_client.post("/api/events/payment", body, format="json")
    assert response.status_code == 200, response.content
    assert Payment.objects.get(pk=body["payment_id"]).expires_at == expires_at
    # A retry is the same payment; another expiry is another body.
    assert api_client.post("/api/events/payment", body, format="json").status_code == 200
    later = {**body, "expires_at": (expires_at + dt.timedelta(minutes=5)).isoformat()}
    assert api_client.post("/api/events/payment", later, format="json").status_code == 409
    assert Payment.objects.get(pk=body["payment_id"]).expires_at == expires_at


def test_without_an_expiry_a_payment_has_none(api_client):
    member = MemberFactory()
    body = _event(member, kind="payment")
    assert api_client.post("/api/events/payment", body, format="json").status_code == 200
    assert api_client.post("/api/events/payment", _event(member, expires_at=None), format="json").status_code == 200
    assert list(Payment.objects.values_list("expires_at", flat=True)) == [None, None]


@pytest.mark.parametrize(
    "value, kind",
    [
        ("2020-01-01T00:00:00Z", "invoice"),  # past
        (lambda: (timezone.now() - dt.timedelta(seconds=1)).isoformat(), "invoice"),  # just expired
        ("tomorrow", "invoice"),
        ("2026-13-45T99:00:00Z", "invoice"),
        (1767225600, "invoice"),
        (lambda: (timezone.now() + dt.timedelta(hours=1)).isoformat(), "payment"),  # only invoices expire
    ],
)
def test_a_past_or_malformed_expiry_is_400_naming_the_field_and_writes_nothing(api_client, value, kind):
    member = MemberFactory()
    value = value() if callable(value) else value
    response = api_client.post("/api/events/payment", _event(member, kind=kind, expires_at=value), format="json")
    assert response.status_code == 400, response.content
    assert "expires_at" in response.json()
    assert not Payment.objects.exists() and not AIAlert.objects.exists()


def test_the_schema_documents_expires_at(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    field = schema["components"]["schemas"]["PaymentEventInputRequest"]["properties"]["expires_at"]
    assert field["format"] == "date-time" and field.get("nullable") is True
    assert "HOLD_EXPIRY_DEFAULT" in field["description"]


# --- the sweep ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "default, status, outcome, notified",
    [("reject", "rejected", "confirmed_fraud", 0), ("release", "released", "false_positive", 1)],
)
def test_an_expired_hold_takes_the_configured_default_exactly_once(settings, default, status, outcome, notified):
    settings.HOLD_EXPIRY_DEFAULT = default
    payment = held_invoice(expires_in=dt.timedelta(seconds=-1))

    assert holds_expire() == {"default": default, "expired": 1, "skipped": 0, "failed": 0}
    assert holds_expire() == {"default": default, "expired": 0, "skipped": 0, "failed": 0}

    payment.refresh_from_db()
    assert payment.status == status
    (action,) = _actions(payment, "expire", "release", "reject")
    assert action.action == "expire" and action.actor is None
    assert action.before == {"status": "held"}
    alert = _alert(payment)
    assert action.after == {
        "status": status,
        "alerts_resolved": [str(alert.pk)],
        "default": default,
        "by": "expiry",
        "expires_at": payment.expires_at.isoformat(),
    }
    assert alert.resolved and alert.payload["outcome"] == outcome
    assert alert.payload["resolution_note"] == "expired" and alert.payload["resolved_by"] == ""
    assert AnalystAction.objects.filter(action="resolve", target_id=str(alert.pk), actor=None).count() == 1
    review = AIMetric.objects.get(metric_key="payment_review")
    assert {k: review.meta[k] for k in ("action", "actor", "after", "expired")} == {
        "action": default,
        "actor": "system",
        "after": status,
        "expired": True,
    }
    assert Notification.objects.filter(kind="payment_released", member=payment.member).count() == notified


def test_a_release_by_expiry_tells_the_member_as_an_analyst_release_does(settings):
    settings.HOLD_EXPIRY_DEFAULT = "release"
    by_expiry = held_invoice(expires_in=dt.timedelta(seconds=-1))
    by_analyst = held_invoice(expires_in=None)
    holds_expire()
    payment_review(payment_id=by_analyst.pk, action="release", actor=User.objects.create_user("a"), reason="ok")
    expired, reviewed = (
        Notification.objects.get(kind="payment_released", member=p.member) for p in (by_expiry, by_analyst)
    )
    assert expired.dedupe_key == f"payment_released:{by_expiry.pk}"
    assert (expired.message_fr, expired.message_en) == (reviewed.message_fr, reviewed.message_en)


def test_holds_not_yet_expired_or_without_expiry_and_payments_not_held_are_untouched():
    later = held_invoice(expires_in=dt.timedelta(minutes=10))
    no_expiry = held_invoice(expires_in=None)
    settled = PaymentFactory(kind="invoice", status="settled", expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert holds_expire()["expired"] == 0
    assert {p.pk: p.status for p in Payment.objects.filter(pk__in=[later.pk, no_expiry.pk, settled.pk])} == {
        later.pk: "held",
        no_expiry.pk: "held",
        settled.pk: "settled",
    }
    assert not _actions(later, "expire") and not AnalystAction.objects.filter(action="expire").exists()
    assert not _alert(later).resolved
    # Its time comes: at that moment it expires, and only it.
    assert holds_expire(now=timezone.now() + dt.timedelta(minutes=11))["expired"] == 1
    assert Payment.objects.get(pk=later.pk).status == "rejected"
    assert Payment.objects.get(pk=no_expiry.pk).status == "held"


def test_the_sweep_takes_at_most_limit_soonest_expired_first():
    payments = [held_invoice(expires_in=dt.timedelta(minutes=-m)) for m in (1, 3, 2)]
    assert holds_expire(limit=2)["expired"] == 2
    assert [Payment.objects.get(pk=p.pk).status for p in payments] == ["held", "rejected", "rejected"]
    assert holds_expire(limit=2)["expired"] == 1


def test_a_hold_an_analyst_reviewed_first_is_skipped():
    payment = held_invoice(expires_in=dt.timedelta(minutes=1))
    payment_review(payment_id=payment.pk, action="release", actor=User.objects.create_user("a"), reason="client joint")
    assert holds_expire(now=timezone.now() + dt.timedelta(minutes=2))["expired"] == 0
    assert [a.action for a in _actions(payment, "expire", "release", "reject")] == ["release"]
    assert Payment.objects.get(pk=payment.pk).status == "released"


def test_an_analyst_arriving_after_the_expiry_is_refused():
    payment = held_invoice(expires_in=dt.timedelta(seconds=-1))
    holds_expire()
    with pytest.raises(PaymentNotHeld) as refused:
        payment_review(payment_id=payment.pk, action="release", actor=User.objects.create_user("a"), reason="trop tard")
    assert refused.value.status == "rejected"
    assert [a.action for a in _actions(payment, "expire", "release", "reject")] == ["expire"]


def test_one_failing_hold_does_not_stop_the_sweep(monkeypatch):
    import fraud.holds

    broken = held_invoice(expires_in=dt.timedelta(minutes=-2))
    fine = held_invoice(expires_in=dt.timedelta(minutes=-1))
    real = fraud.holds.payment_review

    def review(**kwargs):
        if kwargs["payment_id"] == broken.pk:
            raise RuntimeError("boom")
        return real(**kwargs)

    monkeypatch.setattr(fraud.holds, "payment_review", review)
    assert holds_expire() == {"default": "reject", "expired": 1, "skipped": 0, "failed": 1}
    assert Payment.objects.get(pk=broken.pk).status == "held"  # rolled back whole, retried next minute
    assert Payment.objects.get(pk=fine.pk).status == "rejected"


# --- at the same instant ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_expire_a_hold_once(risk_groups):
    from tests.alerts.test_admin import _race

    payment = held_invoice(expires_in=dt.timedelta(seconds=-1))
    results = _race([holds_expire for _ in range(4)])
    assert all(isinstance(r, dict) for r in results), results
    assert sum(r["expired"] for r in results) == 1, results
    assert sum(r["failed"] for r in results) == 0, results
    assert len(_actions(payment, "expire", "release", "reject")) == 1
    assert AnalystAction.objects.filter(action="resolve").count() == 1
    assert AIMetric.objects.filter(metric_key="payment_review").count() == 1
    assert Payment.objects.get(pk=payment.pk).status == "rejected"


@pytest.mark.django_db(transaction=True)
def test_an_analyst_racing_the_sweep_leaves_exactly_one_action(risk_groups, settings):
    from tests.alerts.test_admin import _race

    settings.HOLD_EXPIRY_DEFAULT = "release"
    payment = held_invoice(expires_in=dt.timedelta(seconds=-1))
    analysts = [User.objects.create_user(f"analyste-{i}", password="x", is_staff=True) for i in range(2)]
    results = _race(
        [
            holds_expire,
            lambda: payment_review(payment_id=payment.pk, action="reject", actor=analysts[0], reason="fraude"),
            holds_expire,
            lambda: payment_review(payment_id=payment.pk, action="reject", actor=analysts[1], reason="fraude"),
        ]
    )
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, PaymentNotHeld)], results
    (action,) = _actions(payment, "expire", "release", "reject")
    assert AnalystAction.objects.filter(action="resolve").count() == 1
    assert AIMetric.objects.filter(metric_key="payment_review").count() == 1
    status = Payment.objects.get(pk=payment.pk).status
    assert (action.action, status) in {("expire", "released"), ("reject", "rejected")}
    assert Notification.objects.filter(kind="payment_released").count() == (status == "released")


# --- the review queue ---------------------------------------------------------------------------------


def test_expiry_text():
    now = timezone.now()
    assert expiry_text(None, now=now) == "—"
    assert expiry_text(now, now=now) == "expiré"
    assert expiry_text(now - dt.timedelta(hours=3), now=now) == "expiré"
    assert expiry_text(now + dt.timedelta(seconds=30), now=now) == "expire dans moins d'une minute"
    assert expiry_text(now + dt.timedelta(minutes=12, seconds=40), now=now) == "expire dans 12 min"
    assert expiry_text(now + dt.timedelta(minutes=95), now=now) == "expire dans 1 h 35"
    assert expiry_text(now + dt.timedelta(days=3, minutes=1), now=now) == "expire dans 3 j"
    with translation.override("en"):
        assert expiry_text(now + dt.timedelta(minutes=12, seconds=40), now=now) == "expires in 12 min"
        assert expiry_text(now, now=now) == "expired"


@pytest.fixture
def analyst_client(client, analyst_user):
    client.force_login(analyst_user)
    return client


def test_the_held_queue_shows_the_time_left_oldest_first(analyst_client):
    soon = held_invoice(expires_in=dt.timedelta(minutes=3, seconds=30), minutes_ago=10)
    oldest = held_invoice(expires_in=dt.timedelta(minutes=12, seconds=30), minutes_ago=60)
    no_expiry = held_invoice(expires_in=None, minutes_ago=30)
    expired = held_invoice(expires_in=dt.timedelta(seconds=-5), minutes_ago=5)
    response = analyst_client.get(CHANGELIST)
    assert list(response.context["cl"].result_list) == [oldest, no_expiry, soon, expired]
    table = _text(response).split('id="result_list"', 1)[1].split("</table>", 1)[0]
    rows = table.split("<tbody>", 1)[1].split("<tr")[1:]
    assert len(rows) == 4
    assert "expire dans 12 min" in rows[0] and "risk-expiry-soon" not in rows[0]
    assert 'class="field-expiry">—' in rows[1]
    assert "expire dans 3 min" in rows[2] and "risk-expiry-soon" in rows[2]
    assert "expiré" in rows[3] and "risk-expiry-past" in rows[3]


def test_the_held_payment_page_shows_the_time_left(analyst_client):
    payment = held_invoice(expires_in=dt.timedelta(minutes=40, seconds=30))
    page = _text(analyst_client.get(reverse("admin:sunusav_heldpayment_change", args=[payment.pk])))
    assert "expire dans 40 min" in page
    assert 'name="expires_at"' not in page  # read-only, like the rest of the payment


# --- schedule and settings ----------------------------------------------------------------------------


def test_the_schedule_runs_the_real_task_every_minute():
    from sunusav.schedules import SCHEDULES

    (spec,) = [s for s in SCHEDULES if s["name"] == "sunusav:holds-expire"]
    assert (spec["func"], spec["schedule_type"], spec["minutes"], spec["queue"]) == (
        "fraud.tasks.holds_expire",
        "I",
        1,
        "fraud",
    )
    module, name = spec["func"].rsplit(".", 1)
    payment = held_invoice(expires_in=dt.timedelta(seconds=-1))
    assert getattr(import_module(module), name)()["expired"] == 1
    assert Payment.objects.get(pk=payment.pk).status == "rejected"


@pytest.mark.parametrize("value, ok", [("release", True), ("reject", True), ("approve", False)])
def test_hold_expiry_default_is_checked_at_startup(value, ok):
    from tests.sunusav.test_settings import _import_settings

    result = _import_settings({"HOLD_EXPIRY_DEFAULT": value})
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert "HOLD_EXPIRY_DEFAULT" in result.stderr


def test_an_expired_hold_is_not_an_analyst_label_for_training(db):
    from alerts.models import AIAlert
    from fraud.selectors import analyst_verdicts
    from tests.factories import PaymentFactory

    by_analyst, by_expiry = PaymentFactory(), PaymentFactory()
    for payment, resolved_by in ((by_analyst, "aminata"), (by_expiry, "")):
        AIAlert.objects.create(
            user=payment.member,
            alert_type="fraud_suspect",
            resolved=True,
            payload={"payment_id": str(payment.pk), "outcome": "confirmed_fraud", "resolved_by": resolved_by},
        )
    assert analyst_verdicts() == {str(by_analyst.pk): True}
