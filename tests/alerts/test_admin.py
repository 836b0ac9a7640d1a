"""The alert work queue: ordering, filters, search, readable payloads, resolving one or many, refusals."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from alerts.models import AIAlert, AIMetric
from fraud.selectors import analyst_verdicts
from sunusav.models import AnalystAction, Payment
from tests.factories import MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:alerts_aialert_changelist")


def _text(response) -> str:
    # French number formatting groups digits with (narrow) no-break spaces.
    return re.sub(r"[\u00a0\u202f]", " ", response.content.decode())


def fraud_alert(*, member=None, created_at=None, resolved=False, amount_sats=1_000_000, status="held"):
    member = member or MemberFactory()
    payment = PaymentFactory(member=member, amount_sats=amount_sats, status=status)
    return AIAlert.objects.create(
        user=member,
        alert_type="fraud_suspect",
        created_at=created_at or timezone.now(),
        resolved=resolved,
        resolved_at=timezone.now() if resolved else None,
        payload={
            "payment_id": str(payment.pk),
            "fraud_score": 0.973,
            "decision": "hold",
            "reasons": [{"id": "invoice_burst", "fr": "Rafale de factures : 10 factures en une minute.", "en": "x"}],
            "model_version": "fraud-2026-11-01",
            "fallback": False,
            "amount_sats": amount_sats,
            "features": {"amount_sats": amount_sats, "invoices_last_min": 10},
        },
    )


def credit_alert(*, member=None, created_at=None):
    return AIAlert.objects.create(
        user=member or MemberFactory(),
        alert_type="credit_offer",
        created_at=created_at or timezone.now(),
        payload={"score": 0.912, "band": "A", "offered_amount_xof": 60_000, "model_version": "credit-v3"},
    )


def liquidity_alert(*, created_at=None):
    return AIAlert.objects.create(
        user=None,
        alert_type="liquidity_short",
        created_at=created_at or timezone.now(),
        payload={"tontine_id": "t-1", "round": 3, "tontine_name": "Tontine Médina", "shortfall_sats": 50_000},
    )


@pytest.fixture
def analyst_client(client, analyst_user):
    client.force_login(analyst_user)
    return client


def _resolve(client, alerts, **data):
    body = {"action": "resolve", "_selected_action": [str(a.pk) for a in alerts], **data}
    return client.post(CHANGELIST, body, follow=True)


def _messages(response) -> list[str]:
    return [re.sub(r"[\u00a0\u202f]", " ", str(m)) for m in response.context["messages"]]


# --- listing --------------------------------------------------------------------------------------


def test_open_alerts_come_first_then_newest(analyst_client):
    now = timezone.now()
    resolved_newest = fraud_alert(created_at=now, resolved=True)
    open_old = credit_alert(created_at=now - dt.timedelta(days=3))
    open_new = fraud_alert(created_at=now - dt.timedelta(hours=1))
    response = analyst_client.get(CHANGELIST)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [open_new, open_old, resolved_newest]


def test_filters_by_type_status_and_date(analyst_client):
    now = timezone.now()
    fraud_open = fraud_alert(created_at=now)
    fraud_done = fraud_alert(created_at=now, resolved=True)
    offer_old = credit_alert(created_at=now - dt.timedelta(days=40))

    def listed(query):
        return set(analyst_client.get(CHANGELIST, query).context["cl"].result_list)

    assert listed({"alert_type__exact": "fraud_suspect"}) == {fraud_open, fraud_done}
    assert listed({"statut": "open"}) == {fraud_open, offer_old}
    assert listed({"statut": "resolved"}) == {fraud_done}
    week_ago = (timezone.now() - dt.timedelta(days=7)).isoformat()
    assert listed({"created_at__gte": week_ago}) == {fraud_open, fraud_done}


def test_search_by_member_name_member_id_and_alert_id(analyst_client):
    awa = MemberFactory(display_name="Awa Ndiaye")
    by_awa = fraud_alert(member=awa)
    other = credit_alert(member=MemberFactory(display_name="Moussa Fall"))

    def found(term):
        return set(analyst_client.get(CHANGELIST, {"q": term}).context["cl"].result_list)

    assert found("ndiaye") == {by_awa}
    assert found(str(awa.pk)) == {by_awa}
    assert found(str(other.pk)) == {other}
    assert found("Personne") == set()


def test_payload_is_readable_on_the_list_and_the_page(analyst_client, settings):
    settings.CREDIT_XOF_PER_SAT = 0.6
    alert = fraud_alert(amount_sats=1_000_000)
    credit_alert()
    liquidity_alert()
    listing = _text(analyst_client.get(CHANGELIST))
    assert "1 000 000 sats (600 000 XOF)" in listing
    assert "60 000 XOF (100 000 sats)" in listing  # the credit offer, converted back to sats
    assert "déficit 50 000 sats (30 000 XOF)" in listing
    assert "Rafale de factures" in listing and "bande A" in listing
    assert "fraud-2026-11-01" not in listing  # the model version is on the alert's page, not on each row
    assert "0,973" in listing

    page = _text(analyst_client.get(reverse("admin:alerts_aialert_change", args=[alert.pk])))
    payment_id = alert.payload["payment_id"]
    assert reverse("admin:sunusav_heldpayment_change", args=[payment_id]) in page  # the hold, to review it
    assert "1 000 000 sats (600 000 XOF)" in page and "fraud-2026-11-01" in page
    assert 'id="resolve-alert"' in page
    # Only this type's outcomes are offered.
    assert 'value="confirmed_fraud"' in page and 'value="false_positive"' in page
    assert 'value="offer_sent"' not in page


def test_the_page_is_read_only_even_for_a_superuser(client, django_user_model):
    alert = fraud_alert()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.sn", "pw-root-2026-x"))
    url = reverse("admin:alerts_aialert_change", args=[alert.pk])
    page = client.get(url).content.decode()
    assert 'name="payload"' not in page and 'name="alert_type"' not in page and 'name="_save"' not in page
    assert client.post(url, {"alert_type": "credit_offer", "payload": "{}"}).status_code == 403
    alert.refresh_from_db()
    assert alert.alert_type == "fraud_suspect" and alert.payload["fraud_score"] == 0.973
    assert client.get(reverse("admin:alerts_aialert_add")).status_code == 403


# --- resolving ------------------------------------------------------------------------------------


def test_resolve_many_asks_for_an_outcome_and_a_note_then_resolves_and_audits(analyst_client, analyst_user):
    alerts = [fraud_alert(), fraud_alert()]
    confirm = _resolve(analyst_client, alerts)
    assert confirm.status_code == 200
    assert "admin/bulk_action_confirmation.html" in [t.name for t in confirm.templates]
    assert not AIAlert.objects.filter(resolved=True).exists()  # the first click only asks

    done = _resolve(analyst_client, alerts, apply="1", outcome="confirmed_fraud", note="Carte volée, client joint")
    assert "2 alertes résolues." in _messages(done)
    for alert in alerts:
        alert.refresh_from_db()
        assert alert.resolved and alert.resolved_at is not None
        assert alert.payload["outcome"] == "confirmed_fraud"
        assert alert.payload["resolved_by"] == analyst_user.username
        assert alert.payload["resolution_note"] == "Carte volée, client joint"
        assert alert.payload["fraud_score"] == 0.973  # the seed's columns are kept
        action = AnalystAction.objects.get(target_type="aialert", target_id=str(alert.pk))
        assert (action.actor, action.action, action.note) == (analyst_user, "resolve", "Carte volée, client joint")
        assert action.before == {"resolved": False, "resolved_at": None, "outcome": None}
        assert action.after["resolved"] is True and action.after["outcome"] == "confirmed_fraud"
    # The next fraud training reads these outcomes as labels.
    assert analyst_verdicts() == {a.payload["payment_id"]: True for a in alerts}
    assert AIMetric.objects.filter(metric_key="alert_resolved").count() == 2


def test_resolve_one_from_its_page(analyst_client, analyst_user):
    alert = credit_alert()
    other = credit_alert()
    response = _resolve(analyst_client, [alert], apply="1", outcome="offer_sent", note="Offre transmise par SMS")
    assert response.status_code == 200
    alert.refresh_from_db()
    other.refresh_from_db()
    assert alert.resolved and alert.payload["outcome"] == "offer_sent"
    assert not other.resolved
    assert AnalystAction.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"outcome": "confirmed_fraud", "note": "  "}, "note"),
        ({"outcome": "confirmed_fraud"}, "note"),
        ({"outcome": "offer_sent", "note": "pas pour une fraude"}, "outcome"),
        ({"outcome": "", "note": "sans issue"}, "outcome"),
    ],
)
def test_an_invalid_form_changes_nothing(analyst_client, data, error):
    alert = fraud_alert()
    response = _resolve(analyst_client, [alert], apply="1", **data)
    assert response.status_code == 200
    assert error in response.context["form"].errors
    alert.refresh_from_db()
    assert not alert.resolved and "outcome" not in alert.payload
    assert not AnalystAction.objects.exists()
    assert not AIMetric.objects.filter(metric_key="alert_resolved").exists()


def test_alerts_of_types_without_a_common_outcome_are_refused(analyst_client):
    alerts = [fraud_alert(), credit_alert()]
    response = _resolve(analyst_client, alerts, apply="1", outcome="confirmed_fraud", note="tout")
    assert any("types différents" in m for m in _messages(response))
    assert not AIAlert.objects.filter(resolved=True).exists()
    assert not AnalystAction.objects.exists()


def test_a_second_analyst_is_told_who_resolved_it_and_nothing_doubles(client, analyst_user, risk_groups):
    alert = fraud_alert()
    second = User.objects.create_user("analyste-2", password="x", is_staff=True)
    second.groups.add(risk_groups["analyst"])
    client.force_login(analyst_user)
    _resolve(client, [alert], apply="1", outcome="false_positive", note="Client joint au téléphone")
    alert.refresh_from_db()
    resolved_at = alert.resolved_at

    client.force_login(second)
    response = _resolve(client, [alert], apply="1", outcome="confirmed_fraud", note="Je pense que si")
    hhmm = timezone.localtime(resolved_at).strftime("%H:%M")
    assert any(f"déjà résolue par {analyst_user.username} à {hhmm}" in m for m in _messages(response))
    alert.refresh_from_db()
    assert alert.payload["outcome"] == "false_positive" and alert.resolved_at == resolved_at
    # One resolution and the release of its hold (a fraud alert decides its payment too), nothing from the second.
    assert sorted(AnalystAction.objects.values_list("action", flat=True)) == ["release", "resolve"]
    assert AIMetric.objects.filter(metric_key="alert_resolved").count() == 1


def test_a_mixed_selection_resolves_the_open_ones_and_reports_the_others(analyst_client):
    done = fraud_alert(resolved=True)
    todo = fraud_alert()
    response = _resolve(analyst_client, [done, todo], apply="1", outcome="false_positive", note="vérifié")
    messages = _messages(response)
    assert any("déjà résolue" in m for m in messages) and "1 alerte résolue." in messages
    todo.refresh_from_db()
    assert todo.resolved and AnalystAction.objects.filter(target_type="aialert").count() == 1


# --- permissions ----------------------------------------------------------------------------------


def test_staff_without_the_group_gets_403_and_cannot_resolve(client):
    alert = fraud_alert()
    client.force_login(User.objects.create_user("stagiaire", password="x", is_staff=True))
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:alerts_aialert_change", args=[alert.pk])).status_code == 403
    response = client.post(
        CHANGELIST,
        {
            "action": "resolve",
            "_selected_action": [str(alert.pk)],
            "apply": "1",
            "outcome": "false_positive",
            "note": "x",
        },
    )
    assert response.status_code == 403
    alert.refresh_from_db()
    assert not alert.resolved and not AnalystAction.objects.exists()


def test_viewing_without_the_resolve_permission_offers_no_resolution(client, django_user_model):
    from django.contrib.auth.models import Permission

    alert = fraud_alert()
    viewer = django_user_model.objects.create_user("lecteur", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_aialert"))
    client.force_login(viewer)
    assert (
        'id="resolve-alert"' not in client.get(reverse("admin:alerts_aialert_change", args=[alert.pk])).content.decode()
    )
    _resolve(client, [alert], apply="1", outcome="false_positive", note="x")
    alert.refresh_from_db()
    assert not alert.resolved and not AnalystAction.objects.exists()


def test_an_analyst_cannot_delete_alerts(analyst_client):
    alert = fraud_alert()
    assert analyst_client.get(reverse("admin:alerts_aialert_delete", args=[alert.pk])).status_code == 403
    assert (
        analyst_client.post(reverse("admin:alerts_aialert_delete", args=[alert.pk]), {"post": "yes"}).status_code == 403
    )
    analyst_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [str(alert.pk)], "post": "yes"})
    assert AIAlert.objects.filter(pk=alert.pk).exists()


def test_the_queue_stays_bounded_in_queries(analyst_client, django_assert_max_num_queries):
    for _ in range(30):
        fraud_alert()
    with django_assert_max_num_queries(12):
        response = analyst_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 30
    assert Payment.objects.count() == 30


# --- two analysts at the same instant ---------------------------------------------------------------


def _race(calls):
    """Run the calls at the same instant on their own connections; return what each returned or raised."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_simultaneous_resolutions_resolve_once(risk_groups):
    from alerts.services import AlertAlreadyResolved, alert_resolve

    alert = fraud_alert()
    users = [User.objects.create_user(f"analyste-{i}", password="x", is_staff=True) for i in range(4)]
    results = _race(
        [
            lambda u=u: alert_resolve(alert=alert, actor=u, outcome="confirmed_fraud", note=f"par {u.username}")
            for u in users
        ]
    )
    assert sum(isinstance(r, AIAlert) for r in results) == 1, results
    assert sum(isinstance(r, AlertAlreadyResolved) for r in results) == 3, results
    assert AnalystAction.objects.filter(action="resolve").count() == 1
    assert AIMetric.objects.filter(metric_key="alert_resolved").count() == 1


def test_the_list_says_each_alert_in_one_short_line(analyst_client):
    """Score as a French number, the decision as its own badge, the first reason's label and "+N"."""
    alert = fraud_alert()
    alert.payload["reasons"] = [
        {"id": "invoice_burst", "fr": "Rafale de factures : 14 factures en une minute.", "en": "x"},
        {"id": "rapid_repeat", "fr": "Paiements répétés : 2 s après le précédent.", "en": "x"},
        {"id": "anomaly", "fr": "Score d'anomalie du modèle (forêt d'isolement).", "en": "x"},
    ]
    alert.save()
    listing = _text(analyst_client.get(CHANGELIST))
    row = re.search(r"<tr>.*?</tr>", listing.split("<tbody>")[1], re.S).group(0)
    score = re.search(r'<td class="field-score_number">(.*?)</td>', row).group(1)
    assert score == "0,973"  # a number only, not "bloquer"
    assert re.search(r'<td class="field-decision"><span class="risk-badge risk-badge-hold">bloquer</span></td>', row)
    reason = re.search(r'<td class="field-reason_short">(.*?)</td>', row, re.S).group(1)
    assert ">Rafale de factures</span>" in reason and "+2" in reason
    assert "Paiements répétés : 2 s après le précédent." in reason  # every sentence in the title
    assert "<ul" not in row and "<br" not in row  # one line
