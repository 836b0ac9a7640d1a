"""Member-facing texts, in plain French first and English beside it."""

MESSAGES = {
    "score_changed": (
        "Votre score SunuSàv est maintenant {band} ({score}).",
        "Your SunuSàv score is now {band} ({score}).",
    ),
    "loan_offer": (
        "Bonne nouvelle ! Un microcrédit de {amount_xof} FCFA vous est pré-approuvé sur SunuSàv.",
        "Good news! A microloan of {amount_xof} XOF is pre-approved for you on SunuSàv.",
    ),
    "payment_held": (
        "Votre paiement de {amount_sats} sats est en cours de vérification. Nous revenons vers vous très vite.",
        "Your payment of {amount_sats} sats is being checked. We will get back to you shortly.",
    ),
    "payment_released": (
        "Votre paiement de {amount_sats} sats a été vérifié et validé. Merci de votre patience.",
        "Your payment of {amount_sats} sats has been checked and released. Thank you for your patience.",
    ),
    # What a member is told when a held payment is rejected (by an analyst, a case decision or the expiry
    # default): the same neutral words whatever the reason, never a mention of fraud, suspicion, an
    # investigation or a report to CENTIF (no tipping-off, docs/CENTIF.md).
    "payment_rejected": (
        "Votre paiement de {amount_sats} sats n'a pas pu aboutir. Pour toute question, contactez le service client SunuSàv.",
        "Your payment of {amount_sats} sats could not be completed. For any question, contact SunuSàv customer service.",
    ),
}


def render(kind: str, context: dict) -> tuple[str, str]:
    """Return the French and English texts of a notification."""
    fr, en = MESSAGES[kind]
    return fr.format(**context), en.format(**context)
