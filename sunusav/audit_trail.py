"""The audit trail of analysts' actions in the back-office.

Every action a person takes on risk data (resolve, release, reject, rescore,
activate, roll back, retrain, promote) goes through `action_record` inside the
transaction that makes the change, so the trail and the data cannot disagree.
"""

from __future__ import annotations

from django.db import transaction

from sunusav.logs import current_request_id
from sunusav.models import AnalystAction

ANALYST_GROUP = "Risk analyst"
ADMIN_GROUP = "Risk admin"

# Codenames each group holds (app_label.codename), kept here so the migration
# that creates the groups and the tests that check them read one list.
ANALYST_PERMISSIONS = (
    "sunusav.view_member",
    "sunusav.rescore_member",
    "sunusav.view_tontine",
    "sunusav.view_membership",
    "sunusav.view_contribution",
    "sunusav.view_mobilemoneytransfer",
    "sunusav.view_endorsement",
    "sunusav.view_payment",
    "sunusav.review_payment",
    "sunusav.view_loan",
    "sunusav.view_modelversion",
    "sunusav.view_analystaction",
    "alerts.view_aialert",
    "alerts.resolve_aialert",
    "alerts.view_aimetric",
    "alerts.view_notification",
)
ADMIN_PERMISSIONS = ANALYST_PERMISSIONS + (
    "sunusav.activate_modelversion",
    "sunusav.train_modelversion",
)


def action_record(
    *,
    actor,
    action: str,
    target,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AnalystAction:
    """Record one analyst action on `target` (a model instance); call inside the change's transaction.

    `actor` is the Django auth user who acted (None for the system, e.g. an
    expired hold). `before` and `after` hold the fields the action changed.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("action_record must run inside the transaction that makes the change")
    return AnalystAction.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        before=before or {},
        after=after or {},
        note=(note or "")[:2000],
        request_id=current_request_id() or "",
    )


def groups_ensure() -> None:
    """Create or complete the two back-office groups with today's permission lists (idempotent).

    The migration made them once; this restores them where a database was
    flushed (transactional tests) or predates them.
    """
    from django.contrib.auth.models import Group, Permission

    for name, dotted in ((ANALYST_GROUP, ANALYST_PERMISSIONS), (ADMIN_GROUP, ADMIN_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        wanted = [tuple(d.split(".")) for d in dotted]
        perms = [Permission.objects.get(content_type__app_label=app, codename=code) for app, code in wanted]
        group.permissions.add(*perms)
