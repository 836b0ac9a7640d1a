"""Display helpers every back-office page shares: amounts, numbers, durations, reasons, labels, links, times.

Presentation only (no queries beyond a URL reverse). Reason codes of a model
(a credit reason stored as its code) are turned into sentences through the
catalogue each app registers at start-up (`reason_catalogue_register`), and
codes such as feature names into labels through `labels_register`
(`backoffice.apps` registers the credit and fraud features), so this core
module never imports an app.

Numbers are written the page language's way with their thousands grouped
("7 371", "0,968" in French; "7,371", "0.968" in English) whatever
`USE_THOUSAND_SEPARATOR` says: `number_text`.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext, pgettext
from django.utils.translation import gettext_lazy as _

# code -> (French sentence, English sentence), filled by the apps' ready().
_REASON_TEXTS: dict[str, tuple[str, str]] = {}


def reason_catalogue_register(texts: dict[str, tuple[str, str]]) -> None:
    """Make reason codes readable on every page: {code: (fr, en)}."""
    _REASON_TEXTS.update(texts)


def ui_in_english() -> bool:
    """Return whether the page is being rendered in English."""
    return (get_language() or "fr").startswith("en")


# --- Numbers and durations -------------------------------------------------------------------


def number_text(value, *, decimals: int | None = None, max_decimals: int = 4) -> str:
    """Return a number in the page's language, thousands grouped: "7 371", "0,968", "141 525,49".

    `decimals` fixes the decimal places; otherwise a whole number shows none
    and any other at most `max_decimals` (more for a small share, so that two
    significant digits show), trailing zeros dropped. None is "—";
    anything that is not a number is shown as it is.
    """
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if decimals is None and isinstance(value, int):
        return number_format(value, force_grouping=True)
    if decimals is None:
        if 0 < abs(float(value)) < 1:
            # Small shares keep two significant digits: a false-positive rate of 0.00019 is not 0.
            max_decimals = max(max_decimals, 1 - math.floor(math.log10(abs(float(value)))))
        rounded = round(float(value), max_decimals)
        if rounded == int(rounded):
            return number_format(int(rounded), force_grouping=True)
        text = f"{rounded:.{max_decimals}f}".rstrip("0")
        decimals = len(text.split(".")[1])
        value = rounded
    # Rounded here: number_format cuts a float's extra digits off (0.9996 would read 0,999).
    return number_format(round(float(value), decimals), decimal_pos=decimals, force_grouping=True)


def percent_text(share, *, decimals: int = 1) -> str:
    """Return a share in [0, 1] as a percentage: "12,5 %" ("—" for None)."""
    if share is None:
        return "—"
    return gettext("%(value)s %%") % {"value": number_text(100 * float(share), max_decimals=decimals)}


def duration_us_text(us) -> str:
    """Return microseconds as a person reads them: "850 µs", "12,3 ms", "1,27 s"."""
    if us is None:
        return "—"
    us = float(us)
    if us < 1000:
        return gettext("%(value)s µs") % {"value": number_text(round(us))}
    if us < 1_000_000:
        return gettext("%(value)s ms") % {"value": number_text(us / 1000, max_decimals=1 if us >= 10_000 else 2)}
    return gettext("%(value)s s") % {"value": number_text(us / 1_000_000, max_decimals=2)}


# --- Codes as labels ---------------------------------------------------------------------------

# The models by name, as pages say them.
MODEL_LABELS = {"credit": _("crédit"), "fraud": _("fraude")}

# kind -> {code: label (lazy, French source)}, filled by the apps at start-up.
_LABELS: dict[str, dict[str, object]] = {}


def labels_register(kind: str, labels: dict) -> None:
    """Make codes of one kind readable on every page: labels_register("feature", {"amount_sats": _("montant")})."""
    _LABELS.setdefault(kind, {}).update(labels)


def label_of(kind: str, code) -> str:
    """Return a registered code's label in the page's language, or the code itself."""
    label = _LABELS.get(kind, {}).get(str(code))
    return str(label) if label is not None else str(code)


def labels_of(kind: str) -> dict[str, str]:
    """Return every registered code of one kind with its label in the page's language."""
    return {code: str(label) for code, label in _LABELS.get(kind, {}).items()}


def model_label(name) -> str:
    """Return a model's name as pages say it: "crédit", "fraude" (another name as it is)."""
    label = MODEL_LABELS.get(str(name))
    return str(label) if label is not None else str(name)


def features_text(features) -> list[tuple[str, str]]:
    """Return a feature dump ({code: value}) as (label, number) pairs in the features' own order."""
    if not features:
        return []
    registered = list(_LABELS.get("feature", {}))
    order = {code: i for i, code in enumerate(registered)}
    items = sorted(features.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    return [(label_of("feature", code), number_text(value, max_decimals=2)) for code, value in items]


def label_value(label, value) -> str:
    """Return "label : value" with the page language's punctuation ("label: value" in English)."""
    return pgettext("label and its value", "%(label)s : %(value)s") % {"label": label, "value": value}


def features_html(features):
    """Return a feature dump as an HTML list of "label : value" lines ("—" when empty)."""
    pairs = features_text(features)
    if not pairs:
        return "—"
    return format_html(
        "<ul class='risk-features'>{}</ul>",
        format_html_join("", "<li>{}</li>", ((label_value(label, value),) for label, value in pairs)),
    )


# Notes written by services with a prefix of their own (fraud.services.payment_review
# resolves the payment's alert with "release: <reason>", "reject: <reason>" or "expired").
NOTE_PREFIXES = {"release": _("Libération"), "reject": _("Rejet")}


def note_text(note) -> str:
    """Return an audit or resolution note readably: "reject: x" -> "Rejet : x", "expired" -> "Blocage expiré"."""
    if not note:
        return ""
    note = str(note)
    if note.strip() == "expired":
        return gettext("Blocage expiré : décision par défaut appliquée")
    prefix, sep, rest = note.partition(":")
    label = NOTE_PREFIXES.get(prefix.strip()) if sep else None
    if label is None:
        return note
    return pgettext("note prefix", "%(prefix)s : %(note)s") % {"prefix": label, "note": rest.strip()}


# An ISO timestamp as services write them into audit rows and metrics ("2026-12-07T14:56:26.120871+00:00").
_PREFIXED_ID = re.compile(r"^([a-z_]+):(\S+)$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")


def value_text(value, *, key: str = "") -> str:
    """Return one value of an audit row or a metric's details as a person reads it.

    Yes/no for booleans, "—" for nothing, numbers grouped the page's way,
    microseconds (a key ending in `_us`) as durations, ISO timestamps as local
    dates, registered codes ("value" labels: decisions, outcomes, statuses) by
    their labels; lists joined with commas; anything else as it is.
    """
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("oui") if value else gettext("non")
    if isinstance(value, int | float | Decimal):
        return duration_us_text(value) if key.endswith("_us") else number_text(value)
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v, key=key) for v in value) if value else "—"
    if isinstance(value, dict):
        return ", ".join(label_value(_key_label(k), value_text(v, key=key)) for k, v in value.items()) or "—"
    text = str(value)
    if key in ("note", "reason", "resolution_note"):
        return note_text(text)  # "reject: x" -> "Rejet : x"
    if _ISO_MOMENT.match(text):
        moment = parse_datetime(text)
        if moment is not None:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, timezone.get_default_timezone())
            return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
    for kind in ("value", "reason", "feature", "metric", "stage"):
        if text in _LABELS.get(kind, {}):
            return label_of(kind, text)
    prefixed = _PREFIXED_ID.match(text)
    if prefixed and prefixed.group(1) in _LABELS.get("value", {}):
        # "credit:essai", a run of the credit model: "crédit · essai".
        return f"{label_of('value', prefixed.group(1))} · {prefixed.group(2)}"
    return numbers_grouped(reason_code_text(text))


def _key_label(key) -> str:
    for kind in ("field", "stage", "feature", "metric"):
        if str(key) in _LABELS.get(kind, {}):
            return label_of(kind, key)
    return str(key)


def data_html(data):
    """Return a dict (an audit row's before/after, a metric's details) as "label : value" lines ("—" when empty)."""
    if not data:
        return "—"
    if not isinstance(data, dict):
        return value_text(data)
    return format_html(
        "<ul class='risk-data'>{}</ul>",
        format_html_join(
            "",
            "<li>{}</li>",
            ((label_value(_key_label(k), value_text(v, key=str(k))),) for k, v in data.items()),
        ),
    )


def sats_and_xof(sats) -> str:
    """Return "1 000 000 sats (600 000 XOF)" with the configured XOF per sat."""
    if sats is None:
        return "—"
    xof = round(float(sats) * settings.CREDIT_XOF_PER_SAT)
    return gettext("%(sats)s sats (%(xof)s XOF)") % {
        "sats": number_format(int(sats), force_grouping=True),
        "xof": number_format(xof, force_grouping=True),
    }


def xof_and_sats(xof) -> str:
    """Return "50 000 XOF (83 333 sats)" with the configured XOF per sat."""
    if xof is None:
        return "—"
    sats = round(float(xof) / settings.CREDIT_XOF_PER_SAT) if settings.CREDIT_XOF_PER_SAT else 0
    return gettext("%(xof)s XOF (%(sats)s sats)") % {
        "xof": number_format(int(xof), force_grouping=True),
        "sats": number_format(sats, force_grouping=True),
    }


# A whole number of five digits or more, standing alone ("(1000000 sats)"), in a sentence written by a model.
_LONG_NUMBER = re.compile(r"(?<![\w.,])\d{5,}(?![\w.,])")


def numbers_grouped(text: str) -> str:
    """Return a sentence with its long whole numbers grouped the page's way: "(1000000 sats)" -> "(1 000 000 sats)".

    The models' reasons are written once, at decision time, and also go to
    the API as they are; pages group their numbers when they show them.
    """
    return _LONG_NUMBER.sub(lambda m: number_text(int(m.group(0))), str(text))


def reason_texts(reasons) -> list[str]:
    """Return reasons (the models' dicts with `fr`/`en`, or reason codes) as sentences in the UI language."""
    in_english = ui_in_english()
    texts = []
    for reason in reasons or []:
        if isinstance(reason, dict):
            text = reason.get("en" if in_english else "fr") or reason.get("id") or reason.get("code") or "?"
        else:
            text = reason_code_text(str(reason), english=in_english)
        texts.append(numbers_grouped(text))
    return texts


def reason_code_text(code: str, *, english: bool | None = None) -> str:
    """Return a registered reason code's sentence, or the code itself."""
    if english is None:
        english = ui_in_english()
    fr_en = _REASON_TEXTS.get(code)
    if fr_en is None:
        return code
    return fr_en[1] if english else fr_en[0]


def reasons_html(reasons):
    texts = reason_texts(reasons)
    if not texts:
        return "—"
    return format_html("<ul class='risk-reasons'>{}</ul>", format_html_join("", "<li>{}</li>", ((t,) for t in texts)))


# A reason's short label when none is registered: its sentence up to the first " : ", " (" or ".".
_SENTENCE_HEAD = re.compile(r"\s+:\s|\s\(|\.(?:\s|$)")
REASON_LABEL_MAX = 40


def reason_label(reason) -> str:
    """Return a reason's short label: its registered "reason" label, else its sentence's head, cut to 40 characters."""
    code = (reason.get("id") or reason.get("code")) if isinstance(reason, dict) else reason
    if code is not None and str(code) in _LABELS.get("reason", {}):
        return label_of("reason", code)
    text = reason_texts([reason])[0]
    head = _SENTENCE_HEAD.split(text, maxsplit=1)[0].strip() or text
    if len(head) > REASON_LABEL_MAX:
        head = head[: REASON_LABEL_MAX - 1].rstrip() + "…"
    return head


def reasons_short_html(reasons):
    """Return one line for a list: the first reason's short label and "+N" for the others, every sentence in its title.

    The work queues show a row per line at 1366 px; the whole sentences stay on
    hover (the `title`) and on the object's page.
    """
    reasons = list(reasons or [])
    if not reasons:
        return "—"
    more = len(reasons) - 1
    return format_html(
        '<span class="risk-reason-short" title="{}">{}</span>{}',
        " ; ".join(reason_texts(reasons)),
        capfirst(reason_label(reasons[0])),
        format_html(' <small class="risk-reason-more">+{}</small>', more) if more else "",
    )


def decision_badge(decision: str | None):
    """Return a fraud decision as a short badge (`risk-badge-hold`, ...): "bloquer", "à vérifier", "accepter"."""
    if not decision:
        return "—"
    return format_html('<span class="risk-badge risk-badge-{}">{}</span>', decision, decision_label(decision))


def payment_url(payment_id) -> str | None:
    try:
        return reverse("admin:sunusav_payment_change", args=[payment_id])
    except NoReverseMatch:
        return None


def member_link(member):
    if member is None:
        return "—"
    return format_html(
        '<a href="{}" title="{}">{}</a>',
        reverse("admin:sunusav_member_change", args=[member.pk]),
        member.display_name,
        member.display_name,
    )


def when_text(moment) -> str:
    """Return "à 14:05" today, "le 23/11/2026 à 14:05" another day (local time)."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        return gettext("à %(time)s") % {"time": local.strftime("%H:%M")}
    return gettext("le %(date)s à %(time)s") % {
        "date": date_format(local, "SHORT_DATE_FORMAT"),
        "time": local.strftime("%H:%M"),
    }


def decision_label(decision: str | None) -> str:
    """Return a fraud decision (`hold`, `review`, `allow`) in the UI language."""
    labels = {"hold": gettext("bloquer"), "review": gettext("à vérifier"), "allow": gettext("accepter")}
    return labels.get(decision or "", decision or "—")


def plural_is_singular(count) -> bool:
    """Whether `count` takes the singular in the page's language: 0 and 1 in French, only 1 in English."""
    try:
        n = abs(int(count))
    except (TypeError, ValueError):
        return False
    return n == 1 if ui_in_english() else n <= 1
