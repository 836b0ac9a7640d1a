"""Forms of the "Try the models" page: the six credit features and the five fraud features.

Same names and bounds as the API's serializers (credit/serializers.py,
fraud/serializers.py); Django's number fields already refuse NaN and infinity.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from fraud.serializers import MAX_SATS

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

    tontine_contributions = forms.FloatField(
        label=_("Cotisations aux tontines (sats, 12 mois)"),
        min_value=0,
        initial=CREDIT_EXAMPLE["tontine_contributions"],
    )
    punctuality_rate = forms.FloatField(
        label=_("Taux de ponctualité (0 à 1)"), min_value=0, max_value=1, initial=CREDIT_EXAMPLE["punctuality_rate"]
    )
    contributions_count = forms.IntegerField(
        label=_("Nombre de cotisations payées"), min_value=0, initial=CREDIT_EXAMPLE["contributions_count"]
    )
    mobile_tx_volume = forms.FloatField(
        label=_("Volume mobile money (XOF, 12 mois)"), min_value=0, initial=CREDIT_EXAMPLE["mobile_tx_volume"]
    )
    avg_payment_delay_days = forms.FloatField(
        label=_("Retard moyen de paiement (jours)"), min_value=0, initial=CREDIT_EXAMPLE["avg_payment_delay_days"]
    )
    community_endorsements = forms.IntegerField(
        label=_("Recommandations reçues"), min_value=0, initial=CREDIT_EXAMPLE["community_endorsements"]
    )


class FraudTryForm(forms.Form):
    """A payment's five fraud features."""

    prefix = "fraud"

    amount_sats = forms.IntegerField(
        label=_("Montant (sats)"), min_value=1, max_value=MAX_SATS, initial=FRAUD_EXAMPLE["amount_sats"]
    )
    time_since_last_sec = forms.FloatField(
        label=_("Secondes depuis le paiement précédent"), min_value=0, initial=FRAUD_EXAMPLE["time_since_last_sec"]
    )
    invoices_last_min = forms.IntegerField(
        label=_("Factures dans la dernière minute"),
        min_value=0,
        max_value=1_000_000,
        initial=FRAUD_EXAMPLE["invoices_last_min"],
    )
    device_changes = forms.IntegerField(
        label=_("Changements d'appareil (24 h)"),
        min_value=0,
        max_value=1_000_000,
        initial=FRAUD_EXAMPLE["device_changes"],
    )
    location_changes = forms.IntegerField(
        label=_("Changements de lieu (24 h)"),
        min_value=0,
        max_value=1_000_000,
        initial=FRAUD_EXAMPLE["location_changes"],
    )
