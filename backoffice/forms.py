"""Forms of the back-office pages: "Try the models" (six credit and five fraud features), a model change's reason.

The features keep the API's names and bounds (credit/serializers.py,
fraud/serializers.py) and their labels (`credit.features.FEATURE_LABELS`,
`fraud.features.FEATURE_LABELS`). Numbers are typed the way people write
them: "0,85" and "0.85" are both 0.85, "1 000 000" is a million
(`LocalizedFloatField`, `LocalizedIntegerField`); NaN and infinity are refused.
"""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from credit.features import FEATURE_LABELS as CREDIT_LABELS
from fraud.features import FEATURE_LABELS as FRAUD_LABELS
from fraud.serializers import MAX_SATS

# Spaces a person or a locale puts between thousands: space, no-break space, narrow no-break space, thin space.
GROUPING_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")


def number_from_text(text: str) -> str:
    """Return a typed number in Python's notation: "0,85" -> "0.85", "1 000,5" -> "1000.5", "1,000.5" -> "1000.5".

    Spaces group thousands. With one kind of separator only, a comma is the
    decimal comma (the back-office is French first: "0,85" is never 85) and a
    dot the decimal point; with both, the last one is the decimal separator
    and the other groups thousands.
    """
    text = GROUPING_SPACES.sub("", str(text).strip())
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal == "," else ","
        text = text.replace(grouping, "").replace(decimal, ".")
    elif text.count(",") == 1:
        text = text.replace(",", ".")
    return text


class LocalizedFloatField(forms.FloatField):
    """A number typed with a decimal comma or point, shown the page's way ("0,9" in French)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("localize", True)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            value = number_from_text(value)
        return super().to_python(value)


class LocalizedIntegerField(forms.IntegerField):
    """A whole number typed with or without grouping spaces ("1 000 000"); "5,000" is refused as ambiguous.

    In French "5,000" is five, in English five thousand: rather than guess on
    an amount, the field asks for "5000" or "5 000". "5,0" and "5.0" are 5.
    """

    default_error_messages = {
        "ambiguous": _(
            "Nombre ambigu : écrivez-le sans virgule ni point, les milliers groupés par des espaces (5 000)."
        ),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("localize", True)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "numeric")

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            value = GROUPING_SPACES.sub("", value.strip())
            match = re.fullmatch(r"([+-]?\d+)(?:[.,](\d+))?", value)
            if match and match.group(2) is not None:
                if len(match.group(2)) == 3 or set(match.group(2)) != {"0"}:
                    code = "ambiguous" if len(match.group(2)) == 3 else "invalid"
                    raise ValidationError(self.error_messages[code], code=code)
                value = match.group(1)
        return super().to_python(value)


def _label(labels: dict, name: str):
    return capfirst(labels[name])


# The seed's demo bodies: what the page shows before anyone types.
CREDIT_EXAMPLE = {
    "tontine_contributions": 50000,
    "punctuality_rate": 0.9,
    "contributions_count": 10,
    "mobile_tx_volume": 100000,
    "avg_payment_delay_days": 1,
    "community_endorsements": 5,
}
FRAUD_EXAMPLE = {
    "amount_sats": 1_000_000,
    "time_since_last_sec": 5,
    "invoices_last_min": 10,
    "device_changes": 3,
    "location_changes": 2,
}


class CreditTryForm(forms.Form):
    """A member's six credit features."""

    prefix = "credit"

    tontine_contributions = LocalizedFloatField(
        label=_label(CREDIT_LABELS, "tontine_contributions"),
        min_value=0,
        initial=CREDIT_EXAMPLE["tontine_contributions"],
    )
    punctuality_rate = LocalizedFloatField(
        label=_label(CREDIT_LABELS, "punctuality_rate"),
        min_value=0,
        max_value=1,
        initial=CREDIT_EXAMPLE["punctuality_rate"],
    )
    contributions_count = LocalizedIntegerField(
        label=_label(CREDIT_LABELS, "contributions_count"), min_value=0, initial=CREDIT_EXAMPLE["contributions_count"]
    )
    mobile_tx_volume = LocalizedFloatField(
        label=_label(CREDIT_LABELS, "mobile_tx_volume"), min_value=0, initial=CREDIT_EXAMPLE["mobile_tx_volume"]
    )
    avg_payment_delay_days = LocalizedFloatField(
        label=_label(CREDIT_LABELS, "avg_payment_delay_days"),
        min_value=0,
        initial=CREDIT_EXAMPLE["avg_payment_delay_days"],
    )
    community_endorsements = LocalizedIntegerField(
        label=_label(CREDIT_LABELS, "community_endorsements"),
        min_value=0,
        initial=CREDIT_EXAMPLE["community_endorsements"],
    )


class FraudTryForm(forms.Form):
    """A payment's five fraud features."""

    prefix = "fraud"

    amount_sats = LocalizedIntegerField(
        label=_label(FRAUD_LABELS, "amount_sats"), min_value=1, max_value=MAX_SATS, initial=FRAUD_EXAMPLE["amount_sats"]
    )
    time_since_last_sec = LocalizedFloatField(
        label=_label(FRAUD_LABELS, "time_since_last_sec"), min_value=0, initial=FRAUD_EXAMPLE["time_since_last_sec"]
    )
    invoices_last_min = LocalizedIntegerField(
        label=_label(FRAUD_LABELS, "invoices_last_min"),
        min_value=0,
        max_value=1_000_000,
        initial=FRAUD_EXAMPLE["invoices_last_min"],
    )
    device_changes = LocalizedIntegerField(
        label=_label(FRAUD_LABELS, "device_changes"),
        min_value=0,
        max_value=1_000_000,
        initial=FRAUD_EXAMPLE["device_changes"],
    )
    location_changes = LocalizedIntegerField(
        label=_label(FRAUD_LABELS, "location_changes"),
        min_value=0,
        max_value=1_000_000,
        initial=FRAUD_EXAMPLE["location_changes"],
    )


class ModelChangeForm(forms.Form):
    """Why a model version goes into service or a rollback is made: required, kept as the audit row's note.

    The hidden fields name the versions the page compared; a POST for other
    versions (someone acted meanwhile) is shown the new comparison instead.
    """

    reason = forms.CharField(
        label=_("Raison"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Obligatoire : pourquoi ce changement, au vu de la comparaison ci-dessus."),
        error_messages={
            "required": _("Indiquez la raison de ce changement : elle est enregistrée dans le journal d'audit.")
        },
    )
    candidate = forms.CharField(required=False, widget=forms.HiddenInput)
    compared_with = forms.CharField(required=False, widget=forms.HiddenInput)
