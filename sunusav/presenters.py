"""Display helpers every back-office page shares: amounts in sats and XOF, reasons, links, times.

Presentation only (no queries beyond a URL reverse). Reason codes of a model
(a credit reason stored as its code) are turned into sentences through the
catalogue each app registers at start-up (`reason_catalogue_register`), so
this core module never imports an app.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext

# code -> (French sentence, English sentence), filled by the apps' ready().
_REASON_TEXTS: dict[str, tuple[str, str]] = {}


def reason_catalogue_register(texts: dict[str, tuple[str, str]]) -> None:
    """Make reason codes readable on every page: {code: (fr, en)}."""
    _REASON_TEXTS.update(texts)


def ui_in_english() -> bool:
    """Return whether the page is being rendered in English."""
    return (get_language() or "fr").startswith("en")


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


def reason_texts(reasons) -> list[str]:
    """Return reasons (the models' dicts with `fr`/`en`, or reason codes) as sentences in the UI language."""
    in_english = ui_in_english()
    texts = []
    for reason in reasons or []:
        if isinstance(reason, dict):
            texts.append(reason.get("en" if in_english else "fr") or reason.get("id") or reason.get("code") or "?")
        else:
            texts.append(reason_code_text(str(reason), english=in_english))
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


def payment_url(payment_id) -> str | None:
    try:
        return reverse("admin:sunusav_payment_change", args=[payment_id])
    except NoReverseMatch:
        return None


def member_link(member):
    if member is None:
        return "—"
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:sunusav_member_change", args=[member.pk]), member.display_name
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
