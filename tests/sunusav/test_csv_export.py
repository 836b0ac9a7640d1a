"""CSV export of the queues and the audit trail: the list's rows, French headers, Excel's format, audited, allowed."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from alerts.models import AIAlert
from cases.models import Case
from sunusav.audit_trail import ADMIN_GROUP, ANALYST_GROUP, COMPLIANCE_GROUP
from sunusav.models import AnalystAction, Payment
from tests.factories import MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:cases_case_changelist")
CASES_CSV = reverse("admin:cases_case_export_csv")
TRAIL_CSV = reverse("admin:sunusav_analystaction_export_csv")
ALERTS_CSV = reverse("admin:alerts_aialert_export_csv")
HELD_CSV = reverse("admin:sunusav_heldpayment_export_csv")


def user(name: str, group: str) -> User:
    account = User.objects.create_user(name, password=f"pw-{name}-2026", is_staff=True)
    account.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=account.pk)


def case(member, *, owner=None, status=Case.Status.NEW, severity=Case.Severity.HIGH, amount=0, opened=None):
    opened = opened or timezone.now() - dt.timedelta(hours=1)
    return Case.objects.create(
        kind=Case.Kind.FRAUD,
        member=member,
        owner=owner,
        status=status,
        severity=severity,
        amount_sats=amount,
        item_count=2,
        top_reason="invoice_burst",
        opened_at=opened,
        due_at=opened + dt.timedelta(hours=24),
        closed_at=opened + dt.timedelta(hours=2) if status == Case.Status.CLOSED else None,
    )


def export(client, url, params=None):
    response = client.get(url, params or {})
    assert response.status_code == 200, response.status_code
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    return response, rows


@pytest.fixture
def awa(db):
    return user("awa", ANALYST_GROUP)


@pytest.fixture
def queue(awa):
    moussa = user("moussa", ANALYST_GROUP)
    return {
        "mine": case(
            MemberFactory(display_name="Aminata Diop"), owner=awa, status=Case.Status.ASSIGNED, amount=1234567
        ),
        "other": case(MemberFactory(display_name="Ousmane Fall"), owner=moussa, status=Case.Status.ASSIGNED),
        "unowned": case(MemberFactory(display_name="Khady Sarr")),
        "closed": case(MemberFactory(display_name="Modou Faye"), owner=awa, status=Case.Status.CLOSED),
    }


def test_the_export_has_exactly_the_rows_of_the_filtered_and_searched_queue(client, awa, queue):
    client.force_login(awa)
    _, rows = export(client, CASES_CSV)
    assert sorted(r[4] for r in rows[1:]) == ["Aminata Diop", "Khady Sarr", "Ousmane Fall"]  # open ones, as the queue
    _, mine = export(client, CASES_CSV, {"responsable": "moi"})
    assert [r[4] for r in mine[1:]] == ["Aminata Diop"]
    _, found = export(client, CASES_CSV, {"q": "sarr"})
    assert [r[4] for r in found[1:]] == ["Khady Sarr"]
    _, closed = export(client, CASES_CSV, {"etat": "closed"})
    assert [r[4] for r in closed[1:]] == ["Modou Faye"]
    _, everything = export(client, CASES_CSV, {"etat": "all", "responsable": "moi"})
    assert sorted(r[4] for r in everything[1:]) == ["Aminata Diop", "Modou Faye"]


def test_the_queue_links_to_the_export_of_what_it_shows(client, awa, queue):
    client.force_login(awa)
    page = client.get(QUEUE, {"responsable": "moi"}).content.decode()
    assert "Exporter en CSV" in page
    assert f'href="{CASES_CSV}?responsable=moi"' in page


def test_headers_are_french_and_values_plain_iso_in_dakar_and_labelled(client, awa, queue):
    client.force_login(awa)
    response, rows = export(client, CASES_CSV, {"responsable": "moi"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="case-')
    header, row = rows
    assert header[:5] == ["identifiant", "type de dossier", "statut", "gravité", "membre"]
    assert "montant en jeu (sats)" in header and "échéance" in header
    values = dict(zip(header, row, strict=True))
    mine = queue["mine"]
    assert values["identifiant"] == str(mine.pk)
    assert values["type de dossier"] == "fraude" and values["statut"] == "attribué" and values["gravité"] == "élevée"
    assert values["montant en jeu (sats)"] == "1234567"  # no grouping, no unit
    assert values["motif principal"] == "rafale de factures"
    assert values["responsable"] == "awa"
    assert values["ouvert le"] == mine.opened_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    assert values["ouvert le"].endswith("+00:00")  # Africa/Dakar is UTC all year
    assert values["clos le"] == "" and values["tontine"] == ""


def test_each_export_is_a_line_of_the_audit_trail_with_its_filters_and_row_count(client, awa, queue):
    client.force_login(awa)
    export(client, CASES_CSV, {"responsable": "moi", "q": "diop"})
    action = AnalystAction.objects.get(action=AnalystAction.Action.EXPORT)
    assert action.actor == awa and action.target_type == "case"
    assert action.after["rows"] == 1
    assert action.after["filters"] == {"responsable": "moi", "q": "diop"}
    assert action.after["search"] == "diop"
    # ... and the trail itself exports, following its own filters, this export included.
    _, trail = export(client, TRAIL_CSV, {"action__exact": "export"})
    assert trail[0][:3] == ["date", "analyste", "action"]
    # Newest first: the trail's own export is recorded before its rows are read.
    assert [(r[1], r[2], r[3]) for r in trail[1:]] == [
        ("awa", "export CSV", "analystaction"),
        ("awa", "export CSV", "case"),
    ]


def test_exporting_takes_the_export_permission(client, queue):
    viewer = User.objects.create_user("lecteur", password="pw-lecteur-2026", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_case", content_type__app_label="cases"))
    client.force_login(viewer)
    assert client.get(QUEUE).status_code == 200
    assert "Exporter en CSV" not in client.get(QUEUE).content.decode()
    assert client.get(CASES_CSV).status_code == 403
    assert client.get(TRAIL_CSV).status_code == 403
    assert not AnalystAction.objects.filter(action=AnalystAction.Action.EXPORT).exists()


def test_the_three_back_office_groups_may_export():
    for name in (ANALYST_GROUP, ADMIN_GROUP, COMPLIANCE_GROUP):
        assert Group.objects.get(name=name).permissions.filter(codename="export_data").exists(), name


def test_the_alert_queue_and_the_held_payments_export_their_filtered_rows(client, awa):
    client.force_login(awa)
    member = MemberFactory(display_name='=HYPERLINK("http://x")')
    held = PaymentFactory(member=member, amount_sats=7371, status=Payment.Status.HELD)
    PaymentFactory(member=member, amount_sats=1000, status=Payment.Status.SETTLED)
    AIAlert.objects.create(
        user=member,
        alert_type="fraud_suspect",
        payload={"payment_id": str(held.pk), "fraud_score": 0.93, "decision": "hold", "amount_sats": 7371},
    )
    AIAlert.objects.create(user=member, alert_type="credit_offer", payload={"score": 0.9}, resolved=True)
    _, alerts = export(client, ALERTS_CSV, {"alert_type__exact": "fraud_suspect"})
    assert len(alerts) == 2
    values = dict(zip(alerts[0], alerts[1], strict=True))
    assert values["type d'alerte"] == "Fraude suspectée" and values["résolue"] == "non"
    assert values["score"] == "0.93" and values["montant (sats)"] == "7371" and values["décision"] == "hold"
    assert values["membre"] == '\'=HYPERLINK("http://x")'  # never a formula in a spreadsheet
    _, held_rows = export(client, HELD_CSV)
    assert [(r[0], r[5], r[7]) for r in held_rows[1:]] == [(str(held.pk), "7371", "retenu")]


def test_invalid_filters_export_nothing_and_leave_no_trail(client, awa, queue):
    client.force_login(awa)
    response = client.get(CASES_CSV, {"severity__exact": "grave"})
    assert response.status_code == 400
    assert not AnalystAction.objects.filter(action=AnalystAction.Action.EXPORT).exists()
