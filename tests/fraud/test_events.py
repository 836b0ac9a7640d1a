"""Integration events from the main backend: a payment is decided at once; a cycle rescores its members."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from django_q.models import OrmQ
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from alerts.models import AIAlert, AIMetric, Notification
from sunusav.models import Payment
from tests.factories import MemberFactory, MembershipFactory, PaymentFactory, TontineFactory, suspicious_history

pytestmark = pytest.mark.django_db


def _event(member, **extra):
    return {
        "payment_id": str(uuid.uuid4()),
        "user_id": str(member.pk),
        "kind": "invoice",
        "amount_sats": 1_000_000,
        "device_id": "device-9",
        "location": "place-9",
        **extra,
    }


def test_suspicious_payment_is_held_at_once_with_one_alert_and_one_notification(
    api_client, django_capture_on_commit_callbacks
):
    member = MemberFactory()
    suspicious_history(member)
    body = _event(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/events/payment", body, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["decision"] == "hold" and answer["status"] == "held"
    payment = Payment.objects.get(pk=body["payment_id"])
    assert payment.status == "held"
    assert AIAlert.objects.filter(alert_type="fraud_suspect", payload__payment_id=body["payment_id"]).count() == 1
    assert Notification.objects.filter(kind="payment_held", member=member).count() == 1
    assert OrmQ.objects.count() == 1  # the notification's delivery is what can wait

    # The backend retries the same event: same answer, nothing doubled.
    again = api_client.post("/api/events/payment", body, format="json")
    assert again.status_code == 200 and again.json()["decision"] == "hold"
    assert AIAlert.objects.filter(alert_type="fraud_suspect").count() == 1
    assert Notification.objects.filter(kind="payment_held").count() == 1


def test_same_payment_id_with_another_body_is_409_and_changes_nothing(api_client):
    member = MemberFactory()
    body = _event(member, amount_sats=5_000)
    assert api_client.post("/api/events/payment", body, format="json").status_code == 200
    response = api_client.post("/api/events/payment", {**body, "amount_sats": 6_000}, format="json")
    assert response.status_code == 409
    assert "payment_id" in response.json()
    assert Payment.objects.get(pk=body["payment_id"]).amount_sats == 5_000


def test_ordinary_payment_is_allowed_and_stays_pending(api_client):
    member = MemberFactory()
    PaymentFactory(member=member, created_at=timezone.now() - dt.timedelta(days=2))
    body = _event(member, amount_sats=4_000, kind="payment", device_id="device-1", location="dakar")
    answer = api_client.post("/api/events/payment", body, format="json").json()
    assert answer["decision"] == "allow" and answer["status"] == "pending"
    assert not AIAlert.objects.exists() and not Notification.objects.exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"user_id": str(uuid.uuid4())}, "user_id"),
        ({"amount_sats": -5}, "amount_sats"),
        ({"amount_sats": "5000"}, "amount_sats"),
        ({"payment_id": "not-a-uuid"}, "payment_id"),
        ({"kind": "loan"}, "kind"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_payment_event_is_400_naming_the_field_and_writes_nothing(api_client, change, field):
    member = MemberFactory()
    response = api_client.post("/api/events/payment", {**_event(member), **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Payment.objects.exists()


def test_events_need_the_token(anon_client):
    assert anon_client.post("/api/events/payment", {}, format="json").status_code == 401
    assert anon_client.post("/api/events/cycle-completed", {}, format="json").status_code == 401


def test_cycle_completed_enqueues_one_credit_check_per_member(api_client, django_capture_on_commit_callbacks):
    tontine = TontineFactory()
    for position in range(1, 8):
        MembershipFactory(tontine=tontine, position=position)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/events/cycle-completed", {"tontine_id": str(tontine.pk)}, format="json")
    assert response.status_code == 202
    assert response.json()["enqueued"] == 7
    assert OrmQ.objects.filter(key="credit").count() == 7


def test_cycle_completed_for_an_unknown_tontine_is_400(api_client):
    response = api_client.post("/api/events/cycle-completed", {"tontine_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 400 and "tontine_id" in response.json()
    assert not OrmQ.objects.exists()


@pytest.mark.parametrize("field", ["device_id", "location"])
@pytest.mark.parametrize("value", ["+221 77 123 45 67", "00221771234567", "78-123-45-67"])
def test_a_phone_number_as_device_or_location_is_400_and_not_stored(api_client, field, value):
    member = MemberFactory()
    response = api_client.post("/api/events/payment", _event(member, **{field: value}), format="json")
    assert response.status_code == 400, response.content
    assert "phone numbers are not accepted here" in response.json()[field][0].lower()
    assert value not in response.content.decode()
    assert not Payment.objects.exists()


# --- Idempotency and replays (issue 18, finding 4) ----------------------------------------------


def test_the_same_payment_id_with_only_created_at_changed_is_409(api_client):
    member = MemberFactory()
    when = timezone.now() - dt.timedelta(minutes=10)
    body = _event(member, amount_sats=4_000, kind="payment", created_at=when.isoformat())
    assert api_client.post("/api/events/payment", body, format="json").status_code == 200
    moved = {**body, "created_at": (when + dt.timedelta(minutes=5)).isoformat()}
    response = api_client.post("/api/events/payment", moved, format="json")
    assert response.status_code == 409 and "payment_id" in response.json()
    assert Payment.objects.get(pk=body["payment_id"]).created_at == when
    # The same time again (in another notation) and a retry without created_at are the same payment.
    same = {**body, "created_at": when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")}
    assert api_client.post("/api/events/payment", same, format="json").json()["replay"] is True
    without = {k: v for k, v in body.items() if k != "created_at"}
    assert api_client.post("/api/events/payment", without, format="json").status_code == 200


def test_an_allowed_payment_posted_20_times_is_decided_once_and_replayed_19_times(api_client):
    def allowed_so_far():
        return REGISTRY.get_sample_value("sunusav_fraud_decisions_total", {"decision": "allow"}) or 0

    member = MemberFactory()
    PaymentFactory(member=member, created_at=timezone.now() - dt.timedelta(days=2))
    body = _event(member, amount_sats=4_000, kind="payment", device_id="device-1", location="dakar")
    before = allowed_so_far()
    answers = [api_client.post("/api/events/payment", body, format="json").json() for _ in range(20)]
    assert allowed_so_far() == before + 1  # the retries are no new traffic
    assert {a["decision"] for a in answers} == {"allow"}
    assert [a["replay"] for a in answers] == [False] + [True] * 19
    rows = AIMetric.objects.filter(metric_key="fraud_check", meta__payment_id=body["payment_id"])
    assert rows.count() == 20
    assert sorted(r.meta["replay"] for r in rows) == [False] + [True] * 19
    assert not AIAlert.objects.exists() and not Notification.objects.exists()


def test_a_stored_payment_checked_twice_by_the_job_is_one_decision_and_one_replay(fraud_model):
    from fraud.tasks import fraud_check

    payment = PaymentFactory(amount_sats=4_000)
    assert fraud_check(str(payment.pk)) == fraud_check(str(payment.pk)) == "allow"
    rows = AIMetric.objects.filter(metric_key="fraud_check", user=payment.member)
    assert sorted(r.meta["replay"] for r in rows) == [False, True]


# --- A caller-chosen created_at cannot dodge the hold (issue 18, finding 2) ---------------------

RANK = {"allow": 0, "review": 1, "hold": 2}


def _big_invoice(member, **extra):
    return _event(member, amount_sats=3_000_000, **extra)


def test_the_big_invoice_after_a_burst_is_held_at_the_present_time(api_client):
    member = MemberFactory()
    suspicious_history(member)
    answer = api_client.post("/api/events/payment", _big_invoice(member), format="json").json()
    assert answer["decision"] == "hold"


@pytest.mark.parametrize("created_at", ["9999-12-31T23:59:59Z", "2099-01-01T00:00:00Z", "2001-01-01T00:00:00Z"])
def test_a_created_at_far_from_the_server_clock_is_400_naming_it(api_client, created_at):
    member = MemberFactory()
    suspicious_history(member)
    response = api_client.post("/api/events/payment", _big_invoice(member, created_at=created_at), format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["created_at"]
    assert not Payment.objects.filter(amount_sats=3_000_000).exists()


def test_created_at_is_bounded_by_the_clock_skew_and_the_maximum_age(api_client, settings):
    settings.PAYMENT_CLOCK_SKEW_SECONDS = 120
    settings.PAYMENT_MAX_AGE_HOURS = 6
    member = MemberFactory()
    now = timezone.now()
    for offset, status in [
        (dt.timedelta(seconds=200), 400),
        (dt.timedelta(seconds=60), 200),
        (-dt.timedelta(hours=5, minutes=50), 200),
        (-dt.timedelta(hours=6, minutes=10), 400),
    ]:
        body = _event(member, amount_sats=4_000, kind="payment", created_at=(now + offset).isoformat())
        response = api_client.post("/api/events/payment", body, format="json")
        assert response.status_code == status, (offset, response.content)
        if status == 400:
            assert "created_at" in response.json()


def test_a_late_event_is_screened_at_the_server_time_too(api_client):
    """Two hours ago the member had no history: the server's present, with its burst, decides."""
    member = MemberFactory()
    suspicious_history(member)
    when = timezone.now() - dt.timedelta(hours=2)
    answer = api_client.post("/api/events/payment", _big_invoice(member, created_at=when.isoformat()), format="json")
    assert answer.json()["decision"] == "hold"
    alert = AIAlert.objects.get(user=member)
    assert alert.payload["features"]["invoices_last_min"] == 10  # the burst the server saw
    assert Payment.objects.get(pk=answer.json()["payment_id"]).created_at == when  # recorded as reported


FAR_TIMES = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC))
# Seconds from the present: two days back to an hour ahead, across the accepted window and past it.
NEAR_OFFSETS = st.integers(min_value=-2 * 24 * 3600, max_value=3600).map(lambda s: dt.timedelta(seconds=s))


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(when=st.one_of(FAR_TIMES, NEAR_OFFSETS))
@example(when=dt.timedelta(0))
@example(when=dt.timedelta(seconds=290))  # ahead, within the clock skew: no history in its minute
@example(when=-dt.timedelta(minutes=5))
@example(when=-dt.timedelta(hours=23))
@example(when=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
@example(when=dt.datetime(2001, 1, 1, tzinfo=dt.UTC))
def test_no_created_at_lowers_the_decision(api_client, when):
    member = MemberFactory()
    now = suspicious_history(member)
    created_at = now + when if isinstance(when, dt.timedelta) else when
    response = api_client.post(
        "/api/events/payment", _big_invoice(member, created_at=created_at.isoformat()), format="json"
    )
    if response.status_code == 400:
        assert list(response.json()) == ["created_at"]
        return
    assert response.status_code == 200, response.content
    assert RANK[response.json()["decision"]] >= RANK["hold"], created_at
