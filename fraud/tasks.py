"""django-q2 jobs of the `fraud` queue and the seed's enqueue functions.

Jobs are thin and idempotent: ids in, one service call. Enqueueing waits for
the surrounding transaction to commit (`sunusav.queues.enqueue`).
"""

import uuid
from collections.abc import Iterable

from fraud import holds
from fraud.services import payment_screen
from sunusav.models import Payment
from sunusav.queues import NORMAL, enqueue


def fraud_check(payment_id: str) -> str:
    """Check a stored payment from its member's history; hold and alert when suspicious."""
    payment = Payment.objects.filter(pk=uuid.UUID(payment_id)).first()
    if payment is None:
        return "gone"
    return payment_screen(payment=payment).result.decision


def holds_expire() -> dict:
    """Apply HOLD_EXPIRY_DEFAULT to held payments whose Lightning invoice expired (every minute)."""
    return holds.holds_expire()


def enqueue_fraud_check(payment, priority: str = NORMAL) -> None:
    """Enqueue the check of a stored payment (a `Payment` or its id): the seed's `enqueueFraudCheck`."""
    payment_id = str(payment.pk if isinstance(payment, Payment) else uuid.UUID(str(payment)))
    enqueue("fraud.tasks.fraud_check", payment_id, queue="fraud", priority=priority)


def enqueue_batch_fraud_check(payments: Iterable, priority: str = NORMAL) -> None:
    """Enqueue one check per stored payment: the seed's `enqueueBatchFraudCheck`."""
    for payment in payments:
        enqueue_fraud_check(payment, priority)
