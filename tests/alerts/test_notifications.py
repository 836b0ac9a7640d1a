"""The notifications outbox: once per event, retried, never sent twice, signed webhooks."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from alerts.models import Notification
from alerts.senders import WebhookSender
from alerts.services import notification_enqueue, notifications_deliver_due
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

SECRET = "webhook-secret-for-tests"


class Receiver(BaseHTTPRequestHandler):
    """A stand-in for the main backend: records bodies, can be told to fail."""

    received: list = []
    fail_next = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        if cls.fail_next:
            cls.fail_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        cls.received.append((self.headers, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    Receiver.fail_next = 0
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/notifications", Receiver
    server.shutdown()


def _offer(member, key="loan_offer:1"):
    return notification_enqueue(member=member, kind="loan_offer", dedupe_key=key, context={"amount_xof": 50000})


def test_same_event_is_queued_once_in_both_languages():
    member = MemberFactory()
    first = _offer(member)
    second = _offer(member)
    assert first.pk == second.pk
    assert Notification.objects.count() == 1
    assert "50000 FCFA" in first.message_fr and "50000 XOF" in first.message_en


def test_webhook_delivery_is_signed_and_carries_an_idempotency_key(receiver):
    url, handler = receiver
    notification = _offer(MemberFactory())
    counts = notifications_deliver_due(sender=WebhookSender(url=url, secret=SECRET))
    assert counts == {"sent": 1, "retried": 0, "failed": 0}
    headers, body = handler.received[0]
    assert headers["Idempotency-Key"] == str(notification.id)
    timestamp, mac = (part.split("=", 1)[1] for part in headers["X-SunuSav-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    assert json.loads(body)["kind"] == "loan_offer"
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.sent_at is not None
    # Nothing is sent twice.
    assert notifications_deliver_due(sender=WebhookSender(url=url, secret=SECRET))["sent"] == 0
    assert len(handler.received) == 1


def test_failed_delivery_is_retried_later_then_sent(receiver):
    url, handler = receiver
    handler.fail_next = 1
    notification = _offer(MemberFactory())
    sender = WebhookSender(url=url, secret=SECRET)
    assert notifications_deliver_due(sender=sender) == {"sent": 0, "retried": 1, "failed": 0}
    notification.refresh_from_db()
    assert notification.status == "pending" and notification.next_attempt_at > timezone.now()
    assert "503" in notification.last_error
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
    assert notifications_deliver_due(sender=sender)["sent"] == 1
    assert len(handler.received) == 1


def test_unreachable_receiver_gives_up_after_max_attempts(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    notification = _offer(MemberFactory())
    sender = WebhookSender(url="http://127.0.0.1:9/closed", secret=SECRET, timeout=1)
    for _ in range(2):
        Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now())
        notifications_deliver_due(sender=sender)
    notification.refresh_from_db()
    assert notification.status == "failed" and notification.attempts == 2


def test_a_claimed_notification_is_not_sent_by_another_worker():
    notification = _offer(MemberFactory())
    # Another worker holds a lease on it: its next attempt lies in the future.
    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=60))
    sent = []

    class Recorder:
        def send(self, n):
            sent.append(n.id)

    assert notifications_deliver_due(sender=Recorder())["sent"] == 0
    assert sent == []
