"""Forms of the back-office pages: "Try the models" (six credit and five fraud features), a model change's reason.

The features keep the API's names and bounds (credit/serializers.py,
fraud/serializers.py) and their labels (`credit.features.FEATURE_LABELS`,
`fraud.features.FEATURE_LABELS`). Numbers are typed the way people write
them: "0,85" and "0.85" are both 0.85, "1 000 000" is a million
(`LocalizedFloatField`, `LocalizedIntegerField`); NaN and infinity are refused.
"""

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from credit.features import FEATURE_LABELS as CREDIT_LABELS
from fraud.features import FEATURE_LABELS as FRAUD_LABELS
from fraud.serializers import MAX_SATS
from sunusav.forms import (  # noqa: F401
    GROUPING_SPACES,
    LocalizedDecimalField,
    LocalizedFloatField,
    LocalizedIntegerField,
    number_from_text,
)


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
