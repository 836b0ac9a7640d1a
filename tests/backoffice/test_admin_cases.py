"""The case queue and case page: French, counts and SLA, claim, decide once, four eyes, bad input refused."""

import re

import pytest
from django.urls import reverse

from alerts.models import AIAlert
from cases.models import Case
from sunusav.models import Payment
from tests.cases.test_services import burst, user
from tests.factories import MemberFactory, MembershipFactory, TontineFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:cases_case_changelist")


def _text(response) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", response.content.decode())


def _messages(response) -> list[str]:
    return [re.sub(r"[\u00a0\u202f]", " ", str(m)) for m in response.context["messages"]]


def page(case):
    return reverse("admin:cases_case_change", args=[case.pk])


def act(case):
    return reverse("admin:cases_case_act", args=[case.pk])


@pytest.fixture
def people(db):
    from sunusav.audit_trail import ANALYST_GROUP, COMPLIANCE_GROUP

    return user("awa", ANALYST_GROUP), user("moussa", ANALYST_GROUP), user("conformite", COMPLIANCE_GROUP)


@pytest.fixture
def burst_case(fraud_model):
    member = MemberFactory(display_name="Diégane Sène")
    MembershipFactory(member=member, tontine=TontineFactory(name="Tontine des Almadies"), position=2)
    burst(member, n=15)
    return Case.objects.get(member=member)


def test_the_queue_shows_one_line_per_case_in_french_with_its_sla(client, people, burst_case):
    awa, _, _ = people
    client.force_login(awa)
    response = client.get(QUEUE)
    assert response.status_code == 200
    text = _text(response)
    assert "Diégane Sène" in text
    assert "30 000 sats (18 000 XOF)" in text  # 15 × 2 000 sats at stake
    assert "1 dossier ouvert" in text and "Mes dossiers : 0" in text
    assert "reste 3 h 59" in text or "reste 4 h 00" in text
    assert "élevée" in text
    mine = client.get(QUEUE, {"responsable": "moi"})
    assert "Diégane Sène" not in _text(mine)


def test_claim_then_decide_every_item_at_once_from_the_case_page(client, people, burst_case):
    awa, _, _ = people
    client.force_login(awa)
    response = client.get(page(burst_case))
    text = _text(response)
    assert response.status_code == 200
    assert "15 éléments" in text and "Prendre en charge" in text
    assert "Tontine des Almadies" in text and "place 2 sur" in text
    assert "Décider le dossier" not in text  # claim first
    claimed = client.post(act(burst_case), {"op": "claim"}, follow=True)
    assert "Dossier pris en charge." in _messages(claimed)
    assert "Décider le dossier" in _text(claimed)

    first = AIAlert.objects.filter(user=burst_case.member).order_by("created_at").first()
    decided = client.post(
        act(burst_case),
        {
            "op": "decide",
            "outcome": "false_positive",
            "note": "Vendeuse du marché Sandaga, factures de fin de journée",
            f"exception_{first.pk}": "confirmed_fraud",
        },
        follow=True,
    )
    assert "Dossier clos : tous ses éléments sont décidés." in _messages(decided)
    burst_case.refresh_from_db()
    assert (burst_case.status, burst_case.outcome, burst_case.decided_by) == ("closed", "false_positive", awa)
    statuses = list(Payment.objects.filter(member=burst_case.member).values_list("status", flat=True))
    assert statuses.count("released") == 14 and statuses.count("rejected") == 1
    assert not AIAlert.objects.filter(user=burst_case.member, resolved=False).exists()


def test_bad_input_is_refused_in_french_and_changes_nothing(client, people, burst_case):
    awa, moussa, _ = people
    client.force_login(awa)
    client.post(act(burst_case), {"op": "claim"})
    empty = client.post(act(burst_case), {"op": "decide", "outcome": "false_positive", "note": ""})
    assert empty.status_code == 400
    assert "Le formulaire contient des erreurs : rien n'a été modifié." in _messages(empty)
    wrong = client.post(act(burst_case), {"op": "decide", "outcome": "liquidity_handled", "note": "x"})
    assert wrong.status_code == 400
    unknown = client.post(act(burst_case), {"op": "explode"}, follow=True)
    assert "Action inconnue : rien n'a été modifié." in _messages(unknown)
    client.force_login(moussa)
    not_his = client.post(act(burst_case), {"op": "decide", "outcome": "false_positive", "note": "pas à moi"})
    assert not_his.status_code == 400
    assert any("Seul le responsable" in m for m in _messages(not_his))
    assert client.get(act(burst_case)).status_code == 405
    assert Payment.objects.filter(member=burst_case.member, status="held").count() == 15
    burst_case.refresh_from_db()
    assert (burst_case.status, burst_case.owner) == ("assigned", awa)


def test_four_eyes_from_the_pages(client, people, fraud_model, settings):
    settings.CASE_FOUR_EYES_XOF = 10_000
    awa, _, compliance = people
    member = MemberFactory()
    burst(member, n=2, amount=100_000)
    case = Case.objects.get(member=member)
    client.force_login(awa)
    client.post(act(case), {"op": "claim"})
    assert "demande l'approbation" in _text(client.get(page(case)))
    proposed = client.post(act(case), {"op": "decide", "outcome": "confirmed_fraud", "note": "SIM swap"}, follow=True)
    assert any("quatre yeux" in m for m in _messages(proposed))
    assert "Approuver et appliquer" not in _text(proposed)  # not for the proposer
    client.force_login(compliance)
    pending = client.get(QUEUE, {"responsable": "approbation"})
    assert member.display_name in _text(pending)
    approved = client.post(act(case), {"op": "approve", "approve-note": "D'accord"}, follow=True)
    assert "Décision approuvée et appliquée à tous les éléments." in _messages(approved)
    case.refresh_from_db()
    assert (case.status, case.approved_by) == ("closed", compliance)
    assert Payment.objects.filter(member=member, status="rejected").count() == 2
    assert "Rédiger la déclaration CENTIF" not in _text(approved)  # compliance drafts nothing
    client.force_login(awa)
    assert reverse("admin:cases_suspiciousactivityreport_draft", args=[case.pk]) in _text(client.get(page(case)))


def test_comments_thread_and_english(client, people, burst_case):
    awa, _, compliance = people
    client.force_login(compliance)
    client.post(act(burst_case), {"op": "comment", "body": "Appelé la cliente : injoignable."})
    client.force_login(awa)
    response = client.get(page(burst_case))
    text = _text(response)
    assert "Appelé la cliente : injoignable." in text and "conformite" in text
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    english = _text(client.get(page(burst_case)))
    assert "Take on" in english and "15 items" in english and "Earlier cases" in english
    assert "Prendre en charge" not in english


def test_the_dashboard_shows_median_time_to_decision_and_breaches_per_day(client, people):
    import datetime as dt

    from django.contrib.auth.models import User
    from django.utils import timezone

    from backoffice.case_evidence import cases_sla_summary

    awa, _, _ = people
    now = timezone.now()
    for hours, due_hours in ((1, 4), (3, 4), (9, 4)):  # decided after 1 h, 3 h, 9 h; due after 4 h
        opened = now - dt.timedelta(hours=hours + 1)
        Case.objects.create(
            kind="fraud",
            member=MemberFactory(),
            status="closed",
            outcome="false_positive",
            opened_at=opened,
            due_at=opened + dt.timedelta(hours=due_hours),
            closed_at=opened + dt.timedelta(hours=hours),
            decided_by=awa,
        )
    Case.objects.create(
        kind="fraud", member=MemberFactory(), opened_at=now - dt.timedelta(hours=6), due_at=now - dt.timedelta(hours=2)
    )
    summary = cases_sla_summary()
    assert (summary["median"], summary["decided"], summary["late_decisions"]) == ("3 h 00", 3, 1)
    assert (summary["open"], summary["open_late"], summary["unowned"]) == (1, 1, 1)
    assert sum(row["late"] for row in summary["days"]) == 1
    client.force_login(User.objects.create_superuser("chef", password="x"))
    text = _text(client.get(reverse("backoffice:dashboard")))
    assert "Délai médian de décision : 3 h 00 (3 dossiers décidés)." in text
    assert "1 en retard" in text


def test_resolving_an_alert_on_the_alert_queue_acts_on_its_hold_and_its_case(
    client, people, burst_case, django_capture_on_commit_callbacks
):
    awa, _, _ = people
    client.force_login(awa)
    alerts = list(AIAlert.objects.filter(user=burst_case.member).order_by("created_at")[:2])
    body = {
        "action": "resolve",
        "_selected_action": [str(a.pk) for a in alerts],
        "apply": "1",
        "outcome": "confirmed_fraud",
        "note": "Appel au membre : il n'a pas fait ces paiements",
    }
    with django_capture_on_commit_callbacks(execute=True):  # the case refreshes after the commit
        response = client.post(reverse("admin:alerts_aialert_changelist"), body, follow=True)
    assert "2 alertes résolues." in _messages(response)
    rejected = Payment.objects.filter(pk__in=[a.payload["payment_id"] for a in alerts])
    assert set(rejected.values_list("status", flat=True)) == {"rejected"}
    burst_case.refresh_from_db()
    assert (burst_case.item_count, burst_case.amount_sats) == (13, 13 * 2_000)


def test_next_and_previous_follow_the_filtered_queue_the_analyst_came_from(client, people, fraud_model):
    from urllib.parse import quote

    awa, _, _ = people
    client.force_login(awa)
    cases = []
    for name in ("Aminata", "Binta", "Coumba"):
        member = MemberFactory(display_name=f"{name} Ndiaye")
        burst(member, n=1)
        cases.append(Case.objects.get(member=member))
    MemberFactory(display_name="Zeynab Fall")
    other = MemberFactory(display_name="Ousmane Sow")
    burst(other, n=1)  # not in the searched queue
    preserved = "q=Ndiaye&o=2"  # searched and sorted by name
    middle = _text(client.get(page(cases[1]), {"_changelist_filters": preserved}))
    assert f"/admin/cases/case/{cases[0].pk}/change/" in middle and f"/admin/cases/case/{cases[2].pk}/change/" in middle
    assert f"/admin/cases/case/{Case.objects.get(member=other).pk}/" not in middle
    client.post(act(cases[1]), {"op": "claim", "_changelist_filters": preserved})
    decided = client.post(
        act(cases[1]),
        {"op": "decide", "outcome": "false_positive", "note": "client connu", "_changelist_filters": preserved},
    )
    assert decided.status_code == 302
    assert decided["Location"] == f"{page(cases[2])}?_changelist_filters={quote(preserved, safe='')}"


def test_the_member_page_shows_the_case_and_distinct_alert_lines(client, people, burst_case):
    awa, _, _ = people
    client.force_login(awa)
    text = _text(client.get(reverse("admin:sunusav_member_change", args=[burst_case.member_id])))
    assert "Fraude · nouveau" in text and "15 éléments ouverts" in text
    assert text.count(" · 2 000 sats (1 200 XOF)</td>") == 15  # each open alert with its amount
    assert "Rafale de factures : 10 factures en une minute." in text


def test_the_queue_search_ignores_accents(client, people, burst_case):
    awa, _, _ = people
    client.force_login(awa)
    for term in ("Diegane", "diégane", "SENE"):
        assert "Diégane Sène" in _text(client.get(QUEUE, {"q": term})), term


def test_the_alert_and_the_held_payment_pages_link_to_their_case(client, people, burst_case):
    awa, _, _ = people
    client.force_login(awa)
    item = burst_case.items.select_related("alert", "payment").first()
    case_url = page(burst_case)
    alert_page = _text(client.get(reverse("admin:alerts_aialert_change", args=[item.alert_id])))
    assert case_url in alert_page and reverse("admin:sunusav_payment_change", args=[item.payment_id]) in alert_page
    hold_page = _text(client.get(reverse("admin:sunusav_heldpayment_change", args=[item.payment_id])))
    assert case_url in hold_page


def test_a_late_case_is_highlighted_and_filtered(client, people, burst_case):
    import datetime as dt

    from django.utils import timezone

    awa, _, _ = people
    Case.objects.filter(pk=burst_case.pk).update(due_at=timezone.now() - dt.timedelta(hours=2, minutes=5))
    client.force_login(awa)
    text = _text(client.get(QUEUE))
    assert '<span class="case-late">en retard de 2 h 05</span>' in text or "en retard de 2 h 04" in text
    assert "En retard : 1" in text
    assert "Diégane Sène" in _text(client.get(QUEUE, {"delai": "retard"}))
    assert 'class="case-late"' in _text(client.get(page(burst_case)))


def test_who_may_see_and_act(client, people, burst_case, django_user_model):
    _, _, compliance = people
    nobody = django_user_model.objects.create_user("stagiaire", password="x", is_staff=True)
    client.force_login(nobody)
    assert client.get(QUEUE).status_code == 403
    assert client.get(page(burst_case)).status_code in (403, 404)
    assert client.post(act(burst_case), {"op": "claim"}).status_code in (403, 404)
    client.force_login(compliance)  # reads and comments, decides nothing
    assert client.get(page(burst_case)).status_code == 200
    assert "Prendre en charge" not in _text(client.get(page(burst_case)))
    refused = client.post(act(burst_case), {"op": "claim"})
    assert refused.status_code == 400
    burst_case.refresh_from_db()
    assert burst_case.owner is None and burst_case.status == "new"
