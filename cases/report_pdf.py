"""A CENTIF report as people read it: French texts of its document (`report_display`) and its PDF (`report_pdf`).

Both read only the report's document (`cases.reports.report_document`: the
facts snapshot and the declaration's state), never the database, so the PDF,
the back-office page and the JSON say the same facts. Numbers and dates are
written the French way whatever the reader's language ("1 234 567 sats",
"07/12/2026 13:05", Dakar time): a report to CENTIF is a French document.

The PDF is drawn with ReportLab (pure Python) in the Bitstream Vera font that
ships with it, embedded, so accents print the same on every machine; a
character the font lacks is printed as "?" (the JSON keeps it as it is).
"""

from __future__ import annotations

import io
import os
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import reportlab
from django.utils import translation
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

DAKAR = ZoneInfo("Africa/Dakar")
FONT, FONT_BOLD = "SunusavVera", "SunusavVera-Bold"
_FONT_DIR = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
_font_chars: set[int] = set()
TONTINE_COLUMNS = ("name", "cycle", "contribution", "position", "joined", "status")


# --- French texts of a document ------------------------------------------------------------------


def _moment(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso).astimezone(DAKAR) if iso else None


def datetime_text(iso: str | None) -> str:
    """Return an ISO moment as "07/12/2026 13:05" in Dakar time ("—" when empty)."""
    moment = _moment(iso)
    if moment is None:
        return "—"
    with translation.override("fr"):
        return date_format(moment, "SHORT_DATETIME_FORMAT")


def date_text(iso: str | None) -> str:
    """Return an ISO moment as "7 décembre 2026" ("—" when empty)."""
    moment = _moment(iso)
    if moment is None:
        return "—"
    with translation.override("fr"):
        return date_format(moment, "DATE_FORMAT")


def amount_text(value, unit: str) -> str:
    """Return a whole amount grouped the French way with its unit: "1 234 567 sats", "740 740 XOF"."""
    if value is None:
        return "—"
    with translation.override("fr"):
        return f"{number_format(int(value), force_grouping=True)} {unit}"


def _score_text(score) -> str:
    if score is None:
        return "—"
    with translation.override("fr"):
        return number_format(round(float(score), 3), decimal_pos=3)


def report_display(document: dict) -> dict:
    """Return a document's facts as French texts, section by section (the PDF and the report page show these)."""
    with translation.override("fr"):
        declaration = document.get("declaration") or {}
        declarant = document.get("declarant") or {}
        subject = document.get("subject") or {}
        case = document.get("case") or {}
        totals = document.get("totals") or {}
        return {
            "title": gettext("Déclaration d'opération suspecte (DOS)"),
            "declaration": [
                (gettext("Référence interne"), document.get("report_id") or "—"),
                (gettext("Statut"), declaration.get("status_label") or "—"),
                (gettext("Rédigée par"), _who_when(declaration.get("drafted_by"), declaration.get("drafted_at"))),
                (gettext("Approuvée par"), _who_when(declaration.get("approved_by"), declaration.get("approved_at"))),
                (gettext("Transmise le"), datetime_text(declaration.get("sent_at"))),
                (gettext("Référence CENTIF"), declaration.get("centif_reference") or "—"),
                (gettext("Format"), document.get("schema") or "—"),
                (gettext("Empreinte des faits (SHA-256)"), declaration.get("facts_sha256") or "—"),
            ],
            "declarant": [
                (gettext("Déclarant"), declarant.get("name") or "—"),
                (gettext("Activité"), declarant.get("activity") or "—"),
                (gettext("Pays"), gettext("Sénégal") if declarant.get("country") == "SN" else declarant.get("country")),
            ],
            "subject": [
                (gettext("Identifiant pseudonyme"), subject.get("member_id") or "—"),
                (gettext("Nom affiché"), subject.get("display_name") or "—"),
                (gettext("Région"), subject.get("region_label") or "—"),
                (gettext("Compte créé le"), date_text(subject.get("account_created_at"))),
                (gettext("Empreinte du téléphone"), subject.get("phone_hash") or gettext("non renseignée")),
            ],
            "tontines": [
                {
                    "name": t.get("name") or "—",
                    "cycle": t.get("cycle_label") or "—",
                    "contribution": amount_text(t.get("contribution_xof"), "XOF")
                    + f" ({amount_text(t.get('contribution_sats'), 'sats')})",
                    "position": str(t.get("position") or "—"),
                    "joined": date_text(t.get("joined_at")),
                    "status": t.get("status_label") or "—",
                }
                for t in subject.get("tontines") or []
            ],
            "case": [
                (gettext("Dossier"), case.get("case_id") or "—"),
                (gettext("Ouvert le"), datetime_text(case.get("opened_at"))),
                (gettext("Clos le"), datetime_text(case.get("closed_at"))),
                (gettext("Issue"), case.get("outcome_label") or "—"),
                (gettext("Décidé par"), case.get("decided_by") or "—"),
            ],
            "decision_note": case.get("decision_note") or "—",
            "operations": [
                {
                    "when": datetime_text(o.get("created_at")),
                    "kind": o.get("kind_label") or "—",
                    "xof": amount_text(o.get("amount_xof"), "XOF"),
                    "sats": amount_text(o.get("amount_sats"), "sats"),
                    "status": o.get("status_label") or "—",
                    "device": " · ".join(x for x in (o.get("device_id"), o.get("location")) if x) or "—",
                    "score": _score_text(o.get("fraud_score")),
                    "reasons": list(o.get("reasons") or []),
                    "payment_id": o.get("payment_id"),
                }
                for o in document.get("operations") or []
            ],
            "totals": {
                "count": totals.get("operations", 0),
                "xof": amount_text(totals.get("amount_xof"), "XOF"),
                "sats": amount_text(totals.get("amount_sats"), "sats"),
            },
            "rate": gettext("Conversion : %(rate)s XOF par sat, arrondi au franc.")
            % {"rate": number_format((document.get("conversion") or {}).get("xof_per_sat") or 0)},
            "typology": (document.get("typology") or {}).get("label") or "—",
            "narrative": document.get("narrative") or "",
            "history": [
                {
                    "when": datetime_text(h.get("at")),
                    "actor": h.get("actor") or gettext("système"),
                    "action": h.get("action_label") or "—",
                    "note": h.get("note") or "",
                }
                for h in document.get("history") or []
            ],
        }


def _who_when(who, iso) -> str:
    if not who:
        return "—"
    return gettext("%(who)s, le %(when)s") % {"who": who, "when": datetime_text(iso)}


# --- The PDF ---------------------------------------------------------------------------------------


def _fonts_register() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    regular = TTFont(FONT, os.path.join(_FONT_DIR, "Vera.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(TTFont(FONT_BOLD, os.path.join(_FONT_DIR, "VeraBd.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
    _font_chars.update(regular.face.charToGlyph)


def _printable(text) -> str:
    """Return text the embedded font can print, XML-escaped for a Paragraph (spaces of grouping kept unbreakable)."""
    text = str(text).replace("\u202f", "\u00a0").replace("\u2009", "\u00a0")
    text = "".join(ch if ord(ch) in _font_chars or ch in "\n\t" else "?" for ch in text)
    return escape(text).replace("\n", "<br/>")


def _styles():
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName=FONT_BOLD, fontSize=15, leading=19),
        "warning": ParagraphStyle(
            "w",
            parent=base["Normal"],
            fontName=FONT_BOLD,
            fontSize=8.5,
            textColor=colors.HexColor("#9b1c1c"),
            alignment=TA_CENTER,
        ),
        "h2": ParagraphStyle("h", parent=base["Heading2"], fontName=FONT_BOLD, fontSize=11.5, spaceBefore=8),
        "body": ParagraphStyle("b", parent=base["Normal"], fontName=FONT, fontSize=9, leading=12),
        "cell": ParagraphStyle("c", parent=base["Normal"], fontName=FONT, fontSize=7.5, leading=9.5),
        "cell_bold": ParagraphStyle("cb", parent=base["Normal"], fontName=FONT_BOLD, fontSize=7.5, leading=9.5),
        "history": ParagraphStyle("hi", parent=base["Normal"], fontName=FONT, fontSize=8, leading=10.5, spaceAfter=4),
    }


def _grid(rows, widths, *, header: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9ca3af")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")))
    table.setStyle(TableStyle(style))
    return table


def _pairs(pairs, styles, width) -> Table:
    rows = [[Paragraph(_printable(k), styles["cell_bold"]), Paragraph(_printable(v), styles["cell"])] for k, v in pairs]
    return _grid(rows, [width * 0.3, width * 0.7], header=False)


def report_pdf(document: dict) -> bytes:
    """Return the report's document as a French PDF (A4): declaration, declarant, person, operations, grounds."""
    _fonts_register()
    shown = report_display(document)
    styles = _styles()
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=shown["title"],
        author=(document.get("declarant") or {}).get("name") or "",
        subject=document.get("report_id") or "",
    )
    width = pdf.width
    with translation.override("fr"):
        p, cell = (lambda text, style="body": Paragraph(_printable(text), styles[style])), styles["cell"]
        story = [
            p(shown["title"], "title"),
            p(
                gettext(
                    "Confidentiel — destiné à la CENTIF du Sénégal. Ne jamais en informer la personne concernée "
                    "(interdiction de divulgation)."
                ),
                "warning",
            ),
            Spacer(1, 4 * mm),
            _pairs(shown["declaration"], styles, width),
            p(gettext("1. Déclarant"), "h2"),
            _pairs(shown["declarant"], styles, width),
            p(gettext("2. Personne concernée"), "h2"),
            _pairs(shown["subject"], styles, width),
        ]
        if shown["tontines"]:
            header = [
                gettext("Tontine"),
                gettext("Cycle"),
                gettext("Cotisation"),
                gettext("Rang"),
                gettext("Adhésion"),
                gettext("Statut"),
            ]
            rows = [[Paragraph(_printable(h), styles["cell_bold"]) for h in header]]
            rows += [[Paragraph(_printable(t[k]), cell) for k in TONTINE_COLUMNS] for t in shown["tontines"]]
            story += [Spacer(1, 2 * mm), _grid(rows, [w * width for w in (0.24, 0.13, 0.25, 0.08, 0.16, 0.14)])]
        story += [p(gettext("3. Opérations"), "h2")]
        header = [
            gettext("Date et heure (Dakar)"),
            gettext("Type"),
            gettext("Montant (XOF)"),
            gettext("Montant (sats)"),
            gettext("Statut"),
            gettext("Appareil · lieu"),
            gettext("Motifs"),
        ]
        rows = [[Paragraph(_printable(h), styles["cell_bold"]) for h in header]]
        for o in shown["operations"]:
            reasons = "\n".join(f"• {r}" for r in o["reasons"]) or "—"
            rows.append(
                [Paragraph(_printable(o[k]), cell) for k in ("when", "kind", "xof", "sats", "status", "device")]
                + [Paragraph(_printable(reasons), cell)]
            )
        totals = shown["totals"]
        bold = styles["cell_bold"]
        total_label = gettext("Total (%(count)s)") % {"count": totals["count"]}
        rows.append(
            [Paragraph(_printable(total_label), bold), "", Paragraph(_printable(totals["xof"]), bold)]
            + [Paragraph(_printable(totals["sats"]), bold), "", "", ""]
        )
        story += [
            _grid(rows, [w * width for w in (0.14, 0.09, 0.12, 0.13, 0.09, 0.14, 0.29)]),
            Spacer(1, 1.5 * mm),
            p(shown["rate"], "cell"),
            p(gettext("4. Typologie"), "h2"),
            p(shown["typology"]),
            p(gettext("5. Motifs du soupçon : exposé des faits"), "h2"),
            p(shown["narrative"] or "—"),
            p(gettext("6. Le dossier"), "h2"),
            _pairs(shown["case"], styles, width),
        ]
        # The decision's note and the history flow as paragraphs, never in table cells: a cell cannot
        # run over a page, and a long comment would stop the PDF (ReportLab's "too large" error).
        story += [Spacer(1, 2 * mm), p(gettext("Motivation de la décision"), "cell_bold"), p(shown["decision_note"])]
        if shown["history"]:
            story.append(p(gettext("Historique du dossier"), "h2"))
            for h in shown["history"]:
                head = " · ".join(_printable(h[k]) for k in ("when", "actor", "action"))
                note = f"<br/>{_printable(h['note'])}" if h["note"] else ""
                story.append(Paragraph(f"<b>{head}</b>{note}", styles["history"]))
        footer = gettext("DOS %(id)s — confidentiel — page %(page)s")

        def on_page(canvas, doc):
            canvas.saveState()
            canvas.setFont(FONT, 7)
            canvas.drawCentredString(
                A4[0] / 2, 9 * mm, footer % {"id": document.get("report_id") or "", "page": doc.page}
            )
            canvas.restoreState()

        pdf.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
