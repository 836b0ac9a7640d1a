"""Pluggable delivery of outbox notifications (`NOTIFICATION_SENDER`).

A sender raises on failure; the outbox then retries with backoff. Each send
carries the notification id as an idempotency key, so the receiver can drop a
resend that follows a crash between sending and recording the send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.request

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The receiver did not accept the notification; try again later."""


class LogSender:
    """Write the notification to the log (the default, for development)."""

    def send(self, notification) -> None:
        # Member id and kind only: message texts can carry amounts.
        logger.info("notification %s %s for member %s", notification.id, notification.kind, notification.member_id)


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """Return the `X-SunuSav-Signature` value: `t=<unix time>,v1=<hex HMAC-SHA256>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class WebhookSender:
    """POST the notification as JSON to the main backend, signed with HMAC-SHA256."""

    def __init__(self, url: str | None = None, secret: str | None = None, timeout: float = 5.0):
        self.url = url or settings.NOTIFICATION_WEBHOOK_URL
        self.secret = secret or settings.NOTIFICATION_WEBHOOK_SECRET
        self.timeout = timeout
        if not self.url or not self.secret:
            raise ValueError("WebhookSender needs NOTIFICATION_WEBHOOK_URL and NOTIFICATION_WEBHOOK_SECRET")

    def send(self, notification) -> None:
        body = json.dumps(
            {
                "id": str(notification.id),
                "member_id": str(notification.member_id),
                "kind": notification.kind,
                "message_fr": notification.message_fr,
                "message_en": notification.message_en,
                "payload": notification.payload,
                "created_at": notification.created_at.isoformat(),
            },
            separators=(",", ":"),
        ).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": str(notification.id),
                "X-SunuSav-Signature": sign(body, secret=self.secret, timestamp=int(time.time())),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except OSError as exc:  # URLError, HTTPError, timeouts
            raise DeliveryError(f"webhook: {type(exc).__name__}: {getattr(exc, 'code', '')}") from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook answered {status}")


def get_sender():
    """Return the configured sender."""
    return import_string(settings.NOTIFICATION_SENDER)()
