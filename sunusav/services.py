"""Writes and helpers of the core domain."""

import hashlib
import hmac
import uuid
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sunusav.models import Member, Payment


def phone_hash(phone: str) -> str:
    """Return the keyed hash under which a phone number is stored (never the number itself).

    HMAC-SHA256 keyed by PHONE_HASH_KEY over the E.164 number: the main backend
    can look a member up by phone, and a leaked table reveals no numbers.
    """
    return hmac.new(settings.PHONE_HASH_KEY.encode(), phone.encode(), hashlib.sha256).hexdigest()


class PaymentConflict(Exception):
    """A payment id already stored with a different body."""


def payment_record(
    *,
    payment_id,
    member: Member,
    kind: str,
    amount_sats: int,
    device_id: str = "",
    location: str = "",
    created_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> tuple[Payment, bool]:
    """Store a payment the main backend reports, once per id; return it and whether it is new.

    The same id with the same body is the same payment (a retry); the same id
    with another body is a conflict, never a silent overwrite. `expires_at` is
    the Lightning invoice's expiry (None otherwise): when it passes on a hold
    nobody reviewed, `fraud.holds.holds_expire` applies HOLD_EXPIRY_DEFAULT.
    """
    fields = {
        "member_id": member.pk,
        "kind": kind,
        "amount_sats": amount_sats,
        "device_id": device_id,
        "location": location,
        "expires_at": expires_at,
    }
    payment, created = Payment.objects.get_or_create(
        id=payment_id, defaults={**fields, "created_at": created_at or timezone.now()}
    )
    if not created and any(getattr(payment, name) != value for name, value in fields.items()):
        raise PaymentConflict(str(payment_id))
    return payment, created


@transaction.atomic
def payment_screen(*, payment: Payment, token: str = ""):
    """Check a stored payment from its history; if it is held, tell the member.

    The hold, its alert, its audit row and the member's notification commit
    together. Delivery of the notification can wait: it is enqueued after the
    commit. Safe to repeat: a second check replays the first decision.
    """
    from alerts.services import notification_enqueue
    from fraud.services import payment_check_stored
    from sunusav.queues import HIGH, enqueue

    checked = payment_check_stored(payment=payment, token=token)
    if checked.payment.status == Payment.Status.HELD and not checked.replay:
        notification_enqueue(
            member=checked.payment.member,
            kind="payment_held",
            dedupe_key=f"payment_held:{payment.pk}",
            context={"amount_sats": payment.amount_sats, "payment_id": str(payment.pk)},
        )
        # A nudge: the every-minute schedule delivers the outbox anyway.
        enqueue("alerts.tasks.deliver_notifications", queue="fraud", priority=HIGH, best_effort=True)
    return checked


@transaction.atomic
def payment_event_process(*, data: dict, member: Member, token: str = ""):
    """Store a payment the main backend reports and screen it at once (one transaction)."""
    payment, _ = payment_record(
        payment_id=data["payment_id"],
        member=member,
        kind=data["kind"],
        amount_sats=data["amount_sats"],
        device_id=data.get("device_id", ""),
        location=data.get("location", ""),
        created_at=data.get("created_at"),
        expires_at=data.get("expires_at"),
    )
    return payment_screen(payment=payment, token=token)


def tontine_members_rescore(*, tontine) -> int:
    """Enqueue one normal-priority credit check per member of a tontine; return how many."""
    from credit.tasks import enqueue_credit_check

    member_ids = list(tontine.memberships.values_list("member_id", flat=True))
    run_id = uuid.uuid4().hex
    for member_id in member_ids:
        enqueue_credit_check(member_id, "normal", run_id=run_id)
    return len(member_ids)
