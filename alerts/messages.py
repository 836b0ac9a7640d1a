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
}


def render(kind: str, context: dict) -> tuple[str, str]:
    """Return the French and English texts of a notification."""
    fr, en = MESSAGES[kind]
    return fr.format(**context), en.format(**context)
