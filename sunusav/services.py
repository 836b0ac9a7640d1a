"""Writes and helpers of the core domain."""

import hashlib
import hmac

from django.conf import settings


def phone_hash(phone: str) -> str:
    """Return the keyed hash under which a phone number is stored (never the number itself).

    HMAC-SHA256 keyed by PHONE_HASH_KEY over the E.164 number: the main backend
    can look a member up by phone, and a leaked table reveals no numbers.
    """
    return hmac.new(settings.PHONE_HASH_KEY.encode(), phone.encode(), hashlib.sha256).hexdigest()
