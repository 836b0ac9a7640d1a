"""Audit rows, metric details and reasons as a person reads them (sunusav.presenters)."""

import datetime as dt

from django.utils import timezone, translation

from sunusav.presenters import data_html, reason_label, reasons_short_html, value_text


def test_values_are_words_numbers_and_dates_not_codes():
    with translation.override("fr"):
        assert value_text(True) == "oui" and value_text(False) == "non" and value_text(None) == "—"
        assert value_text(1272082, key="validation_us") == "1,27 s"
        assert value_text(12345).replace("\u202f", " ").replace("\u00a0", " ") == "12 345"
        assert value_text("confirmed_fraud") == "Fraude confirmée"
        assert value_text("held") == "retenu"
        assert value_text("hold") == "bloquer"
        assert value_text("reject: Appareil volé", key="note") == "Rejet : Appareil volé"
        assert value_text("credit:essai") == "crédit · essai"
        moment = timezone.make_aware(dt.datetime(2026, 12, 7, 14, 56, 26), dt.UTC)
        assert value_text(moment.isoformat()) == timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def test_an_audit_row_is_label_value_lines():
    with translation.override("fr"):
        page = str(data_html({"resolved": True, "outcome": "false_positive", "status": "held"}))
    assert "<li>résolue : oui</li>" in page
    assert "<li>issue : Fausse alerte</li>" in page and "<li>statut : retenu</li>" in page
    assert "true" not in page and "false_positive" not in page


def test_a_reason_is_one_short_label_with_the_others_counted():
    reasons = [
        {"id": "invoice_burst", "fr": "Rafale de factures : 14 factures en une minute.", "en": "x"},
        {"id": "unknown_rule", "fr": "Une règle sans étiquette courte : détail.", "en": "x"},
    ]
    with translation.override("fr"):
        assert reason_label(reasons[0]) == "rafale de factures"
        assert reason_label(reasons[1]) == "Une règle sans étiquette courte"  # the sentence's head
        long = {"id": "x", "fr": "Un motif dont la première phrase est beaucoup trop longue pour une ligne"}
        assert len(reason_label(long)) <= 40 and reason_label(long).endswith("…")
        html = str(reasons_short_html(reasons))
    assert ">Rafale de factures</span>" in html and "+1" in html
    assert "Une règle sans étiquette courte : détail." in html  # in the title
    assert reasons_short_html([]) == "—"
