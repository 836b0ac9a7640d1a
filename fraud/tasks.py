"""django-q2 jobs of the `fraud` queue and the seed's enqueue functions."""

import uuid
from collections.abc import Iterable

from sunusav.models import Payment
from sunusav.queues import NORMAL, enqueue


def fraud_check(payment_id: str) -> str:
    """Check a stored payment from its member's history; hold and alert when suspicious."""
    from sunusav.services import payment_screen

    payment = Payment.objects.filter(pk=uuid.UUID(payment_id)).first()
    if payment is None:
        return "gone"
    return payment_screen(payment=payment).result.decision


def _payment_id(payment) -> str:
    return str(payment.pk if isinstance(payment, Payment) else uuid.UUID(str(payment)))


def enqueue_fraud_check(payment, priority: str = NORMAL) -> None:
    """Enqueue the check of a stored payment (a `Payment` or its id): the seed's `enqueueFraudCheck`."""
    enqueue("fraud.tasks.fraud_check", _payment_id(payment), queue="fraud", priority=priority)


def enqueue_batch_fraud_check(payments: Iterable, priority: str = NORMAL) -> None:
    """Enqueue one check per stored payment: the seed's `enqueueBatchFraudCheck`."""
    for payment in payments:
        enqueue_fraud_check(payment, priority)


def holds_expire_task() -> dict:
    """Apply HOLD_EXPIRY_DEFAULT to held payments whose Lightning invoice expired (every minute)."""
    from fraud.holds import holds_expire

    return holds_expire()
