"""CENTIF reports: drafted only from a case closed as confirmed fraud, four eyes, states, audit, no tipping-off.

Cases are built directly through the ORM (Case + CaseItem + AIAlert + Payment):
the case services are written elsewhere, and a report only reads a closed case.
"""

import datetime as dt
import json
import threading
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts import payloads
from alerts.models import AIAlert, Notification
from cases import reports
from cases.models import Case, CaseComment, CaseItem, SuspiciousActivityReport
from cases.reports import (
    ReportInvalid,
    ReportPermissionDenied,
    ReportStateError,
    report_approve,
    report_draft,
    report_send,
    report_update,
)
from sunusav.models import AnalystAction, Payment
from tests.factories import MemberFactory, MembershipFactory, PaymentFactory, TontineFactory

pytestmark = pytest.mark.django_db

DAKAR = ZoneInfo("Africa/Dakar")
NARRATIVE = "Quinze factures en deux minutes depuis trois appareils, puis une demande de retrait du pot."
# 18:38:05 in Dakar (UTC+0) on 1 December 2026: the burst the issue tells of.
BURST_AT = dt.datetime(2026, 12, 1, 18, 38, 5, tzinfo=DAKAR)
AMOUNTS = [1_234_567, 2_000, 500_000]  # sats; XOF at 0.6 per sat: 740 740, 1 200, 300 000


# --- The world ---------------------------------------------------------------------------------------


def staff(username: str, *codenames: str) -> User:
    """A staff user holding the given `app.codename` permissions (fresh, so its permission cache is empty)."""
    user = User.objects.create_user(username, password=f"pw-{username}-2026", is_staff=True)
    for dotted in codenames:
        app, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return User.objects.get(pk=user.pk)


def drafter_user(name="redacteur"):
    return staff(name, reports.VIEW_PERMISSION, reports.DRAFT_PERMISSION)


def approver_user(name="conformite"):
    return staff(name, reports.VIEW_PERMISSION, reports.APPROVE_PERMISSION)


def fraud_case(*, status="closed", outcome="confirmed_fraud", amounts=AMOUNTS, decided_by=None) -> Case:
    """A member's fraud case with one held-then-rejected invoice per amount, its audit rows and a comment."""
    member = MemberFactory(display_name="Diégane Sène", region="thies", phone_hash=uuid.uuid4().hex * 2)
    member.created_at = dt.datetime(2025, 3, 14, 9, 0, tzinfo=DAKAR)
    member.save(update_fields=["created_at"])
    MembershipFactory(member=member, tontine=TontineFactory(name="Tontine des Almadies"), position=3)
    now = timezone.now()
    case = Case.objects.create(
        kind=Case.Kind.FRAUD,
        member=member,
        status=status,
        outcome=outcome if status == "closed" else "",
        severity=Case.Severity.HIGH,
        amount_sats=sum(amounts),
        item_count=len(amounts),
        top_reason="invoice_burst",
        opened_at=now - dt.timedelta(hours=3),
        due_at=now + dt.timedelta(hours=1),
        closed_at=now - dt.timedelta(minutes=5) if status == "closed" else None,
        decided_by=decided_by,
        decision_note="Rafale confirmée : appareils inconnus du membre.",
    )
    for i, sats in enumerate(amounts):
        payment = PaymentFactory(
            member=member,
            kind="invoice",
            amount_sats=sats,
            status=Payment.Status.REJECTED,
            device_id=f"appareil-{i}",
            location="Thiès",
            created_at=BURST_AT + dt.timedelta(seconds=7 * i),
        )
        alert = AIAlert.objects.create(
            user=member,
            alert_type="fraud_suspect",
            resolved=True,
            payload=payloads.fraud_suspect(
                payment_id=payment.pk,
                features={"amount_sats": sats},
                fraud_score=0.9683,
                decision="hold",
                is_fraud=True,
                reasons=[{"id": "burst", "fr": "10 factures en une minute", "en": "10 invoices in one minute"}],
                model_version="fraud-test",
                fallback=False,
                default_action_applied=False,
                isolation_score=None,
                amount_sats=sats,
                request_id=None,
            ),
        )
        CaseItem.objects.create(case=case, alert=alert, payment=payment, severity=3, amount_sats=sats)
    analyst = decided_by or User.objects.get_or_create(username="analyste-dossier")[0]
    AnalystAction.objects.create(
        actor=analyst, action="resolve", target_type="case", target_id=str(case.pk), note="Dossier décidé"
    )
    CaseComment.objects.create(case=case, author=analyst, body="Le membre nie avoir changé de téléphone.")
    return case


def drafted(case=None, drafter=None) -> SuspiciousActivityReport:
    return report_draft(
        case_id=(case or fraud_case()).pk,
        actor=drafter or drafter_user(),
        typology=reports.Typology.INVOICE_BURST,
        narrative=NARRATIVE,
    )


def approved(report=None, approver=None) -> SuspiciousActivityReport:
    return report_approve(report_id=(report or drafted()).pk, actor=approver or approver_user())


# --- Drafting -----------------------------------------------------------------------------------------


def test_a_report_is_drafted_from_a_case_closed_as_confirmed_fraud_and_audited():
    drafter = drafter_user()
    report = drafted(drafter=drafter)
    assert report.status == SuspiciousActivityReport.Status.DRAFT
    assert (report.drafted_by, report.typology, report.narrative) == (drafter, "invoice_burst", NARRATIVE)
    (row,) = AnalystAction.objects.filter(action="report_draft")
    assert (row.actor, row.target_type, row.target_id) == (drafter, "suspiciousactivityreport", str(report.pk))
    assert row.after["operations"] == 3 and row.after["facts_sha256"] == reports.facts_fingerprint(report.facts)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("closed", "false_positive"), ("assigned", ""), ("new", ""), ("pending_approval", "")],
)
def test_no_report_from_a_case_not_closed_as_confirmed_fraud(status, outcome):
    case = fraud_case(status=status, outcome=outcome)
    with pytest.raises(ReportStateError, match="clos en fraude confirmée"):
        report_draft(case_id=case.pk, actor=drafter_user(), typology="invoice_burst", narrative=NARRATIVE)
    assert not SuspiciousActivityReport.objects.exists()
    assert not AnalystAction.objects.filter(action__startswith="report_").exists()


def test_one_report_in_progress_per_case_and_a_new_one_after_it_was_sent():
    case = fraud_case()
    first = drafted(case)
    with pytest.raises(ReportStateError, match="déjà en cours"):
        drafted(case, drafter_user("autre-redacteur"))
    report_send(
        report_id=approved(first).pk,
        actor=approver_user("transmetteur"),
        sent_at=timezone.now(),
        centif_reference="C-1",
    )
    assert drafted(case, drafter_user("complement")).status == "draft"  # a complementary report
    assert SuspiciousActivityReport.objects.filter(case=case).count() == 2


@pytest.mark.parametrize(
    ("typology", "narrative", "said"),
    [
        ("invoice_burst", "", "obligatoire"),
        ("invoice_burst", "   trop court   ", "obligatoire"),
        ("invoice_burst", "x" * (reports.NARRATIVE_MAX + 1), "trop long"),
        ("blanchiment_inconnu", NARRATIVE, "Typologie inconnue"),
        ("", NARRATIVE, "Typologie inconnue"),
    ],
)
def test_bad_input_is_refused_in_french_and_nothing_is_drafted(typology, narrative, said):
    with pytest.raises(ReportInvalid, match=said):
        report_draft(case_id=fraud_case().pk, actor=drafter_user(), typology=typology, narrative=narrative)
    assert not SuspiciousActivityReport.objects.exists()
    assert not AnalystAction.objects.filter(action__startswith="report_").exists()


def test_drafting_needs_the_decide_permission():
    with pytest.raises(ReportPermissionDenied, match="rédiger"):
        drafted(drafter=staff("lecteur", reports.VIEW_PERMISSION))
    assert not SuspiciousActivityReport.objects.exists()


def test_an_unknown_case_is_refused():
    with pytest.raises(ReportInvalid, match="Dossier introuvable"):
        report_draft(case_id="pas-un-uuid", actor=drafter_user(), typology="other", narrative=NARRATIVE)


# --- The facts --------------------------------------------------------------------------------------


def test_the_facts_hold_the_member_the_operations_in_xof_and_sats_and_the_case_history(settings):
    settings.CREDIT_XOF_PER_SAT = 0.6
    case = fraud_case()
    facts = drafted(case).facts
    assert facts["schema"] == "sunusav-dos/1"
    subject = facts["subject"]
    assert subject["member_id"] == str(case.member_id)
    assert (subject["display_name"], subject["region"], subject["region_label"]) == ("Diégane Sène", "thies", "Thiès")
    assert subject["account_created_at"] == "2025-03-14T09:00:00+00:00"
    assert subject["phone_hash"] == case.member.phone_hash and len(subject["phone_hash"]) == 64
    assert "phone" not in subject
    assert [(t["name"], t["position"]) for t in subject["tontines"]] == [("Tontine des Almadies", 3)]
    operations = facts["operations"]
    assert [o["created_at"] for o in operations] == [
        "2026-12-01T18:38:05+00:00",
        "2026-12-01T18:38:12+00:00",
        "2026-12-01T18:38:19+00:00",
    ]
    assert [(o["amount_sats"], o["amount_xof"]) for o in operations] == [
        (1_234_567, 740_740),
        (2_000, 1_200),
        (500_000, 300_000),
    ]
    first = operations[0]
    assert (first["kind"], first["kind_label"], first["status"], first["status_label"]) == (
        "invoice",
        "facture",
        "rejected",
        "rejeté",
    )
    assert (first["device_id"], first["location"], first["reasons"]) == (
        "appareil-0",
        "Thiès",
        ["10 factures en une minute"],
    )
    assert facts["totals"] == {"operations": 3, "amount_sats": 1_736_567, "amount_xof": 1_041_940}
    assert facts["typology"] == {"code": "invoice_burst", "label": "rafale de factures"}
    assert facts["narrative"] == NARRATIVE
    assert [(h["type"], h["note"]) for h in facts["history"]] == [
        ("action", "Dossier décidé"),
        ("comment", "Le membre nie avoir changé de téléphone."),
    ]
    assert facts["case"]["case_id"] == str(case.pk) and facts["case"]["outcome"] == "confirmed_fraud"


def test_the_facts_are_a_snapshot_taken_at_drafting():
    case = fraud_case()
    report = drafted(case)
    before = dict(report.facts)
    Payment.objects.filter(member=case.member).update(amount_sats=1, location="ailleurs")
    case.member.display_name = "Autre nom"
    case.member.save()
    report.refresh_from_db()
    assert report.facts == before
    assert json.loads(reports.report_json(report))["subject"]["display_name"] == "Diégane Sène"


def test_the_json_is_the_facts_with_the_declaration_state():
    report = approved()
    document = json.loads(reports.report_json(report))
    report.refresh_from_db()
    declaration = document.pop("declaration")
    assert document == report.facts  # every other key is the snapshot, unchanged
    assert declaration["status"] == "approved" and declaration["approved_by"] == "conformite"
    assert declaration["facts_sha256"] == reports.facts_fingerprint(report.facts)


# --- Editing a draft ---------------------------------------------------------------------------------


def test_a_draft_is_edited_and_audited_and_its_editor_may_not_approve_it():
    report = drafted()
    editor = staff("editrice", reports.VIEW_PERMISSION, reports.DRAFT_PERMISSION, reports.APPROVE_PERMISSION)
    report_update(report_id=report.pk, actor=editor, typology="money_mule", narrative=NARRATIVE + " Compte mule.")
    report.refresh_from_db()
    assert report.typology == "money_mule" and report.facts["typology"]["label"] == "compte mule"
    assert report.facts["narrative"].endswith("Compte mule.")
    (row,) = AnalystAction.objects.filter(action="report_update")
    assert row.before["typology"] == "invoice_burst" and row.after["typology"] == "money_mule"
    with pytest.raises(ReportPermissionDenied, match="Quatre yeux"):
        report_approve(report_id=report.pk, actor=editor)
    assert SuspiciousActivityReport.objects.get(pk=report.pk).status == "draft"


def test_only_a_draft_is_edited():
    report = approved()
    with pytest.raises(ReportStateError, match="Seul un brouillon"):
        report_update(report_id=report.pk, actor=drafter_user("r2"), typology="other", narrative=NARRATIVE)
    assert SuspiciousActivityReport.objects.get(pk=report.pk).typology == "invoice_burst"


# --- Four eyes and the states ------------------------------------------------------------------------


def test_the_drafter_may_not_approve_even_with_the_permission():
    both = staff("les-deux", reports.VIEW_PERMISSION, reports.DRAFT_PERMISSION, reports.APPROVE_PERMISSION)
    report = drafted(drafter=both)
    with pytest.raises(ReportPermissionDenied, match="Quatre yeux"):
        report_approve(report_id=report.pk, actor=both)
    report.refresh_from_db()
    assert report.status == "draft" and report.approved_by is None
    assert not AnalystAction.objects.filter(action="report_approve").exists()


def test_approving_needs_the_approve_permission():
    report = drafted()
    with pytest.raises(ReportPermissionDenied, match="approuver"):
        report_approve(report_id=report.pk, actor=drafter_user("collegue"))
    assert SuspiciousActivityReport.objects.get(pk=report.pk).status == "draft"


def test_a_second_user_approves_then_the_report_is_sent_each_step_audited():
    approver = approver_user()
    report = approved(approver=approver)
    assert (report.status, report.approved_by) == ("approved", approver) and report.approved_at is not None
    sent_at = timezone.now() - dt.timedelta(minutes=1)
    report = report_send(report_id=report.pk, actor=approver, sent_at=sent_at, centif_reference="  CENTIF/2026/0042 ")
    assert (report.status, report.sent_at, report.centif_reference) == ("sent", sent_at, "CENTIF/2026/0042")
    rows = list(AnalystAction.objects.filter(target_id=str(report.pk)).order_by("created_at", "pk"))
    assert [r.action for r in rows] == ["report_draft", "report_approve", "report_send"]
    assert rows[2].after["centif_reference"] == "CENTIF/2026/0042"
    # What was approved is what was sent: the same facts, the same print.
    assert rows[1].after["facts_sha256"] == rows[2].after["facts_sha256"] == rows[0].after["facts_sha256"]


def test_a_draft_cannot_be_sent_nor_a_sent_report_approved_again():
    report = drafted()
    sender = approver_user("envoi")
    with pytest.raises(ReportStateError, match="brouillon"):
        report_send(report_id=report.pk, actor=sender, sent_at=timezone.now(), centif_reference="C-9")
    report = approved(report)
    report_send(report_id=report.pk, actor=sender, sent_at=timezone.now(), centif_reference="C-9")
    with pytest.raises(ReportStateError, match="déjà transmise"):
        report_approve(report_id=report.pk, actor=approver_user("encore"))
    with pytest.raises(ReportStateError, match="déjà transmise"):
        report_send(report_id=report.pk, actor=sender, sent_at=timezone.now(), centif_reference="C-10")
    report.refresh_from_db()
    assert (report.status, report.centif_reference) == ("sent", "C-9")
    assert AnalystAction.objects.filter(action="report_send").count() == 1


def test_sending_needs_the_approve_permission():
    report = approved()
    with pytest.raises(ReportPermissionDenied, match="transmettre"):
        report_send(report_id=report.pk, actor=drafter_user("r3"), sent_at=timezone.now(), centif_reference="C-1")
    assert SuspiciousActivityReport.objects.get(pk=report.pk).status == "approved"


@pytest.mark.parametrize(
    ("shift", "reference", "said"),
    [
        (dt.timedelta(days=2), "C-1", "futur"),
        (dt.timedelta(days=-3), "C-1", "précéder"),
        (dt.timedelta(0), "   ", "obligatoire"),
        (dt.timedelta(0), "C" * 65, "trop longue"),
        (dt.timedelta(0), "C-\x00", "non imprimables"),
    ],
)
def test_a_bad_sending_date_or_reference_is_refused_and_nothing_changes(shift, reference, said):
    report = approved()
    with pytest.raises(ReportInvalid, match=said):
        report_send(
            report_id=report.pk, actor=approver_user("e"), sent_at=timezone.now() + shift, centif_reference=reference
        )
    report.refresh_from_db()
    assert (report.status, report.sent_at, report.centif_reference) == ("approved", None, "")


def test_a_centif_reference_names_one_report():
    first = approved()
    sender = approver_user("e2")
    report_send(report_id=first.pk, actor=sender, sent_at=timezone.now(), centif_reference="C-7")
    second = approved(drafted(drafter=drafter_user("r4")), approver_user("a4"))
    with pytest.raises(ReportInvalid, match="déjà celle"):
        report_send(report_id=second.pk, actor=sender, sent_at=timezone.now(), centif_reference="C-7")


# --- No tipping-off ----------------------------------------------------------------------------------


def test_the_report_flow_never_writes_a_member_notification():
    case = fraud_case()
    before = Notification.objects.count()
    report = drafted(case)
    report_update(report_id=report.pk, actor=drafter_user("r5"), typology="other", narrative=NARRATIVE + " !")
    report = approved(report)
    report_send(report_id=report.pk, actor=approver_user("e3"), sent_at=timezone.now(), centif_reference="C-3")
    reports.report_download_record(report=report, actor=report.drafted_by, file_format="pdf")
    assert Notification.objects.count() == before == 0
    assert not Notification.objects.filter(member=case.member).exists()


# --- Two approvers at the same instant ---------------------------------------------------------------


def _race(calls):
    """Run the calls at the same instant, each on its own database connection; return what each returned or raised."""
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
def test_two_approvers_at_once_give_exactly_one_approval():
    report = drafted()
    approvers = [approver_user(f"conformite-{i}") for i in range(3)]
    results = _race([lambda u=u: report_approve(report_id=report.pk, actor=u) for u in approvers])
    assert sum(isinstance(r, SuspiciousActivityReport) for r in results) == 1, results
    assert sum(isinstance(r, ReportStateError) for r in results) == 2, results
    report.refresh_from_db()
    assert report.status == "approved" and report.approved_by in approvers
    assert AnalystAction.objects.filter(action="report_approve").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_drafts_of_one_case_at_once_give_exactly_one_report():
    case = fraud_case()
    drafters = [drafter_user(f"redacteur-{i}") for i in range(3)]
    results = _race(
        [
            lambda u=u: report_draft(case_id=case.pk, actor=u, typology="invoice_burst", narrative=NARRATIVE)
            for u in drafters
        ]
    )
    assert sum(isinstance(r, SuspiciousActivityReport) for r in results) == 1, results
    assert sum(isinstance(r, ReportStateError) for r in results) == 2, results
    assert SuspiciousActivityReport.objects.filter(case=case).count() == 1
    assert AnalystAction.objects.filter(action="report_draft").count() == 1


# --- The back-office pages ---------------------------------------------------------------------------


def _url(name: str, *args) -> str:
    return reverse(f"admin:cases_suspiciousactivityreport_{name}", args=args)


def test_the_draft_page_previews_the_facts_and_drafts_through_the_service(client):
    case = fraud_case()
    drafter = drafter_user()
    client.force_login(drafter)
    page = client.get(_url("draft", case.pk))
    assert page.status_code == 200
    text = page.content.decode()
    assert "740\xa0740 XOF" in text and "1\xa0234\xa0567 sats" in text and "01/12/2026 18:38" in text
    response = client.post(_url("draft", case.pk), {"typology": "invoice_burst", "narrative": NARRATIVE})
    report = SuspiciousActivityReport.objects.get()
    assert response.status_code == 302 and response["Location"] == _url("change", report.pk)
    assert report.drafted_by == drafter


def test_the_draft_page_refuses_bad_input_in_french_and_drafts_nothing(client):
    case = fraud_case()
    client.force_login(drafter_user())
    response = client.post(_url("draft", case.pk), {"typology": "inconnue", "narrative": "court"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Corrigez les erreurs" in text and "Sélectionnez un choix valide" in text
    assert not SuspiciousActivityReport.objects.exists()


def test_the_draft_page_of_an_open_case_says_why_no_report(client):
    case = fraud_case(status="assigned")
    client.force_login(drafter_user())
    response = client.get(_url("draft", case.pk))
    assert response.status_code == 400 and "pas clos en fraude confirmée" in response.content.decode()
    response = client.post(_url("draft", case.pk), {"typology": "invoice_burst", "narrative": NARRATIVE})
    assert response.status_code == 400 and not SuspiciousActivityReport.objects.exists()


def test_the_pages_need_the_view_permission_and_each_step_its_own(client):
    report = drafted()
    nobody = staff("sans-droit")
    client.force_login(nobody)
    for url in (_url("changelist"), _url("change", report.pk), _url("pdf", report.pk), _url("json", report.pk)):
        assert client.get(url).status_code == 403, url
    assert client.get(_url("draft", report.case_id)).status_code == 403
    assert client.post(_url("approve", report.pk)).status_code == 403
    reader = staff("lecteur", reports.VIEW_PERMISSION)
    client.force_login(reader)
    assert client.get(_url("change", report.pk)).status_code == 200
    assert client.post(_url("approve", report.pk)).status_code == 403
    assert client.post(_url("update", report.pk), {"typology": "other", "narrative": NARRATIVE}).status_code == 403
    assert client.get(_url("draft", report.case_id)).status_code == 403
    report.refresh_from_db()
    assert report.status == "draft" and report.typology == "invoice_burst"
    assert not AnalystAction.objects.filter(action__in=["report_approve", "report_update", "report_download"]).exists()


def test_the_report_page_offers_each_user_only_the_steps_they_may_take(client):
    drafter = drafter_user()
    report = drafted(drafter=drafter)
    client.force_login(drafter)
    text = client.get(_url("change", report.pk)).content.decode()
    assert 'id="report-update"' in text and 'id="report-approve"' not in text and 'id="report-send"' not in text
    approver = approver_user()
    client.force_login(approver)
    text = client.get(_url("change", report.pk)).content.decode()
    assert 'id="report-approve"' in text and 'id="report-update"' not in text
    assert "740\xa0740 XOF" in text and NARRATIVE in text
    both = staff("les-deux", reports.VIEW_PERMISSION, reports.DRAFT_PERMISSION, reports.APPROVE_PERMISSION)
    report_update(report_id=report.pk, actor=both, typology="other", narrative=NARRATIVE)
    client.force_login(both)
    text = client.get(_url("change", report.pk)).content.decode()
    assert 'id="report-four-eyes"' in text and 'id="report-approve"' not in text


def test_approve_and_send_through_the_pages(client):
    report = drafted()
    approver = approver_user()
    client.force_login(approver)
    response = client.post(_url("approve", report.pk), {"note": "Faits vérifiés."})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == "approved" and report.approved_by == approver
    assert AnalystAction.objects.get(action="report_approve").note == "Faits vérifiés."
    assert 'id="report-send"' in client.get(_url("change", report.pk)).content.decode()
    today = timezone.localtime(timezone.now(), DAKAR)
    response = client.post(
        _url("send", report.pk),
        {"sent_date": today.strftime("%d/%m/%Y"), "sent_time": "00:01", "centif_reference": "CENTIF-2026-77"},
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.status, report.centif_reference) == ("sent", "CENTIF-2026-77")
    assert timezone.localtime(report.sent_at, DAKAR).strftime("%d/%m/%Y %H:%M") == today.strftime("%d/%m/%Y 00:01")


def test_the_drafter_approving_through_the_page_is_refused_in_french(client):
    both = staff("les-deux", reports.VIEW_PERMISSION, reports.DRAFT_PERMISSION, reports.APPROVE_PERMISSION)
    report = drafted(drafter=both)
    client.force_login(both)
    response = client.post(_url("approve", report.pk), {"note": ""}, follow=True)
    assert "Quatre yeux" in response.content.decode()
    assert SuspiciousActivityReport.objects.get(pk=report.pk).status == "draft"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"sent_date": "32/13/2026", "sent_time": "10:00", "centif_reference": "C-1"}, "Saisissez une date valide"),
        ({"sent_date": "01/12/2026", "sent_time": "", "centif_reference": "C-1"}, "Ce champ est obligatoire"),
        ({"sent_date": "01/01/2099", "sent_time": "10:00", "centif_reference": "C-1"}, "dans le futur"),
        ({"sent_date": "01/12/2026", "sent_time": "10:00", "centif_reference": ""}, "Ce champ est obligatoire"),
    ],
)
def test_bad_sending_input_on_the_page_is_a_400_in_french_and_nothing_changes(client, data, said):
    report = approved()
    client.force_login(report.approved_by)
    response = client.post(_url("send", report.pk), data)
    assert response.status_code == 400 and said in response.content.decode()
    report.refresh_from_db()
    assert (report.status, report.centif_reference) == ("approved", "")
    assert not AnalystAction.objects.filter(action="report_send").exists()


def test_a_bad_draft_edit_on_the_page_is_a_400_and_nothing_changes(client):
    drafter = drafter_user()
    report = drafted(drafter=drafter)
    client.force_login(drafter)
    response = client.post(_url("update", report.pk), {"typology": "other", "narrative": "court"})
    assert response.status_code == 400 and "au moins" in response.content.decode()
    report.refresh_from_db()
    assert report.typology == "invoice_burst" and report.narrative == NARRATIVE


def test_downloads_are_audited_with_who_and_which_format(client):
    report = drafted()
    reader = staff("lecteur", reports.VIEW_PERMISSION)
    client.force_login(reader)
    response = client.get(_url("json", report.pk))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"] and "no-store" in response["Cache-Control"]
    document = json.loads(response.content)
    assert document["operations"] == report.facts["operations"]
    response = client.get(_url("pdf", report.pk))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    rows = AnalystAction.objects.filter(action="report_download").order_by("created_at", "pk")
    assert [(r.actor, r.after["format"]) for r in rows] == [(reader, "json"), (reader, "pdf")]


def test_the_list_shows_the_reports_and_the_cases_that_may_be_reported(client):
    reported = drafted()
    waiting = fraud_case()
    fraud_case(status="closed", outcome="false_positive")
    client.force_login(staff("chef", reports.VIEW_PERMISSION, reports.DRAFT_PERMISSION))
    text = client.get(_url("changelist")).content.decode()
    assert _url("change", reported.pk) in text
    assert _url("draft", waiting.pk) in text and _url("draft", reported.case_id) not in text
    assert text.count("Rédiger une déclaration") == 1


def test_the_report_pages_read_in_french(client):
    from tests.backoffice.test_french_pages import english_left, visible_text

    waiting = fraud_case()
    report = drafted()
    sent = approved(drafted(drafter=drafter_user("r-envoi")), approver_user("a-envoi"))
    report_send(report_id=sent.pk, actor=sent.approved_by, sent_at=timezone.now(), centif_reference="C-FR-1")
    to_send = approved(drafted(drafter=drafter_user("r-appr")), approver_user("a-appr"))
    everyone = staff("tout", reports.VIEW_PERMISSION, reports.DRAFT_PERMISSION, reports.APPROVE_PERMISSION)
    client.force_login(everyone)
    pages = {
        "list": _url("changelist"),
        "draft": _url("draft", waiting.pk),
        "report (draft)": _url("change", report.pk),
        "report (approved)": _url("change", to_send.pk),
        "report (sent)": _url("change", sent.pk),
    }
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        text = visible_text(response.content.decode())
        assert english_left(text) == [], (name, english_left(text))
