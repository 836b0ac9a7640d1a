"""Holds on Lightning invoices expire with the invoice.

A held payment whose `expires_at` has passed without an analyst's review takes
HOLD_EXPIRY_DEFAULT ("reject" or "release") from the system, once:

- each payment is handled in its own transaction: its row is locked
  (`select_for_update(skip_locked=True)` on PostgreSQL, so two sweeps never
  wait on each other and never both act; SQLite serialises writes) and
  re-checked as still held and expired under the lock;
- the effects are an analyst review's (`fraud.services.payment_review`) with
  actor None: status, the fraud alert resolved with the matching outcome and
  the note "expired", the member told of a release, audited as an
  `AnalystAction` "expire" whose `after` names the default applied;
- a payment an analyst reviewed a moment earlier is no longer held and is
  skipped: never a second action.

Run every minute by `fraud.tasks.holds_expire` (sunusav/schedules.py).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from fraud.services import PaymentNotHeld, payment_review
from sunusav.models import Payment

logger = logging.getLogger(__name__)

EXPIRED_REASON = "expired"


def expired_holds(*, now: datetime, limit: int) -> list:
    """Ids of held payments whose invoice expired at or before `now`, soonest expired first."""
    return list(
        Payment.objects.filter(status=Payment.Status.HELD, expires_at__isnull=False, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )


def _hold_expire(*, payment_id, now: datetime, default: str) -> bool:
    """Apply `default` to one expired hold; False when it is locked elsewhere or no longer held."""
    with transaction.atomic():
        rows = Payment.objects.filter(
            pk=payment_id, status=Payment.Status.HELD, expires_at__isnull=False, expires_at__lte=now
        )
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        else:
            rows = rows.select_for_update()
        if not list(rows.values_list("pk", flat=True)):
            return False  # reviewed meanwhile, or another sweep holds it right now
        try:
            payment_review(payment_id=payment_id, action=default, actor=None, reason=EXPIRED_REASON, expired=True)
        except PaymentNotHeld:
            return False
    return True


def holds_expire(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Apply HOLD_EXPIRY_DEFAULT to held payments whose invoice expired; return what was done.

    Returns `{"default": "reject"|"release", "expired": n, "skipped": n, "failed": n}`:
    `skipped` counts holds an analyst or another sweep took first. Safe to run
    concurrently and repeatedly (django-q2 delivers at least once).
    """
    now = now or timezone.now()
    default = settings.HOLD_EXPIRY_DEFAULT
    done = {"default": default, "expired": 0, "skipped": 0, "failed": 0}
    for payment_id in expired_holds(now=now, limit=limit):
        try:
            applied = _hold_expire(payment_id=payment_id, now=now, default=default)
        except Exception:  # one broken row must not stop the sweep; it is retried next minute
            logger.exception("hold.expire_failed", extra={"payment_id": str(payment_id)})
            done["failed"] += 1
            continue
        if applied:
            done["expired"] += 1
            logger.info("hold.expired", extra={"payment_id": str(payment_id), "default": default})
        else:
            done["skipped"] += 1
    return done
