"""The CENTIF report's PDF: French, and made of the same facts as its JSON (read back as text with pypdf)."""

import io
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from pypdf import PdfReader

from cases import reports
from cases.models import CaseComment
from cases.report_pdf import amount_text, datetime_text, report_display, report_pdf
from tests.cases.test_reports import NARRATIVE, approved, drafted, fraud_case, staff

pytestmark = pytest.mark.django_db


def pdf_text(body: bytes) -> str:
    """Return a PDF's text, its whitespace (no-break spaces of grouped numbers included) made single spaces."""
    reader = PdfReader(io.BytesIO(body))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " "))


def test_the_pdf_holds_the_operations_with_dates_and_amounts_in_xof_and_sats(settings):
    settings.CREDIT_XOF_PER_SAT = 0.6
    report = drafted()
    text = pdf_text(report_pdf(reports.report_document(report)))
    assert "Déclaration d'opération suspecte (DOS)" in text
    assert text.count("01/12/2026 18:38") == 3  # the three invoices of the burst, in Dakar time
    for amount in ("1 234 567 sats", "740 740 XOF", "2 000 sats", "1 200 XOF", "500 000 sats", "300 000 XOF"):
        assert amount in text, amount
    assert "Total (3)" in text and "1 736 567 sats" in text and "1 041 940 XOF" in text
    assert "10 factures en une minute" in text and "appareil-0" in text
    assert "Diégane Sène" in text and "Thiès" in text and report.case.member.phone_hash in text.replace(" ", "")
    assert "rafale de factures" in text and NARRATIVE in text
    assert "Le membre nie avoir changé de téléphone." in text
    assert "Ne jamais en informer la personne concernée" in text


def test_the_pdf_and_the_json_say_the_same_facts():
    report = drafted()
    document = reports.report_document(report)
    text = pdf_text(report_pdf(document))
    exported = json.loads(reports.report_json(report))
    assert exported == document
    for operation in exported["operations"]:
        assert datetime_text(operation["created_at"]) in text
        assert amount_text(operation["amount_sats"], "sats").replace("\xa0", " ") in text
        assert amount_text(operation["amount_xof"], "XOF").replace("\xa0", " ") in text
    assert exported["declaration"]["facts_sha256"] in text.replace(" ", "")


def test_the_pdf_shows_the_approval_and_the_centif_reference():
    report = approved()
    report = reports.report_send(
        report_id=report.pk, actor=report.approved_by, sent_at=timezone.now(), centif_reference="CENTIF/2026/0042"
    )
    text = pdf_text(report_pdf(reports.report_document(report)))
    assert "transmise" in text and "CENTIF/2026/0042" in text and "conformite" in text


def test_the_pdf_is_french_whatever_the_reader_language():
    report = drafted()
    with translation.override("en"):
        text = pdf_text(report_pdf(reports.report_document(report)))
    assert "Opérations" in text and "740 740 XOF" in text and "facture" in text


def test_a_character_the_font_lacks_prints_as_a_question_mark_and_markup_is_text():
    case = fraud_case()
    case.member.display_name = "Ŋoor <b>& Fils</b>"
    case.member.save()
    report = drafted(case)
    text = pdf_text(report_pdf(reports.report_document(report)))
    assert "?oor <b>& Fils</b>" in text
    assert json.loads(reports.report_json(report))["subject"]["display_name"] == "Ŋoor <b>& Fils</b>"


def test_a_long_report_runs_over_pages_with_its_header_and_footer():
    case = fraud_case(amounts=[1_000 + i for i in range(60)])
    report = drafted(case)
    reader = PdfReader(io.BytesIO(report_pdf(reports.report_document(report))))
    assert len(reader.pages) >= 2
    last = reader.pages[-1].extract_text()
    assert f"DOS {report.pk}" in last and "confidentiel" in last
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in reader.pages]
    assert sum("Date et heure (Dakar)" in page for page in pages) >= 2  # the table's header repeats


def test_the_downloaded_pdf_is_the_reports(client):
    report = drafted()
    reader = staff("lecteur", reports.VIEW_PERMISSION)
    client.force_login(reader)
    response = client.get(reverse("admin:cases_suspiciousactivityreport_pdf", args=[report.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "740 740 XOF" in text and "1 234 567 sats" in text


def test_the_display_is_french_numbers_and_dakar_times():
    shown = report_display(
        {
            "operations": [{"created_at": "2026-12-01T23:30:00-01:00", "amount_sats": 1234567, "amount_xof": 740740}],
            "totals": {"operations": 1, "amount_sats": 1234567, "amount_xof": 740740},
            "conversion": {"xof_per_sat": 0.6},
        }
    )
    (operation,) = shown["operations"]
    assert operation["when"] == "02/12/2026 00:30"  # Dakar is UTC+0
    assert (operation["sats"], operation["xof"]) == ("1\xa0234\xa0567 sats", "740\xa0740 XOF")
    assert shown["rate"] == "Conversion : 0,6 XOF par sat, arrondi au franc."


def test_a_very_long_narrative_and_comment_run_over_pages():
    case = fraud_case()
    CaseComment.objects.create(case=case, author=case.comments.first().author, body="Très long commentaire. " * 800)
    report = reports.report_draft(
        case_id=case.pk,
        actor=staff("r", reports.VIEW_PERMISSION, reports.DRAFT_PERMISSION),
        typology="other",
        narrative="Exposé détaillé. " * 580,
    )
    reader = PdfReader(io.BytesIO(report_pdf(reports.report_document(report))))
    assert len(reader.pages) >= 4
