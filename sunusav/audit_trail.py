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
# The second pair of eyes on money and reports: approves case decisions and CENTIF reports.
COMPLIANCE_GROUP = "Compliance officer"

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
    "sunusav.export_data",
    "alerts.view_aialert",
    "alerts.resolve_aialert",
    "alerts.view_aimetric",
    "alerts.view_notification",
    "cases.view_case",
    "cases.decide_case",
    "cases.view_caseitem",
    "cases.view_casecomment",
    "cases.add_casecomment",
    "cases.view_suspiciousactivityreport",
    # The fraud rules and their lists (issue 15): analysts read them.
    "fraud.view_ruleset",
    "fraud.view_rule",
    "fraud.view_rulelist",
    "fraud.view_rulelistentry",
    # Analysts snooze a rule for one member (a market vendor's bursts), with a reason and an end date.
    "fraud.view_rulesuppression",
    "fraud.add_rulesuppression",
    "fraud.change_rulesuppression",
)
ADMIN_PERMISSIONS = ANALYST_PERMISSIONS + (
    "sunusav.activate_modelversion",
    "sunusav.train_modelversion",
    # Risk admins write, approve (another's version: four eyes) and publish rules, and keep the lists.
    "fraud.add_ruleset",
    "fraud.change_ruleset",
    "fraud.change_rule",
    "fraud.approve_ruleset",
    "fraud.publish_ruleset",
    "fraud.add_rulelist",
    "fraud.change_rulelist",
    "fraud.change_rulelistentry",
)
# Reads what analysts read, decides nothing alone: approves another's case decision or report.
COMPLIANCE_PERMISSIONS = tuple(p for p in ANALYST_PERMISSIONS if ".view_" in p or p == "cases.add_casecomment") + (
    "cases.approve_case",
    "cases.approve_report",
    "sunusav.export_data",
)
GROUPS = (
    (ANALYST_GROUP, ANALYST_PERMISSIONS),
    (ADMIN_GROUP, ADMIN_PERMISSIONS),
    (COMPLIANCE_GROUP, COMPLIANCE_PERMISSIONS),
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
    """Create or complete the back-office groups with today's permission lists (idempotent).

    The migration made them once; this restores them where a database was
    flushed (transactional tests) or predates them.
    """
    from django.contrib.auth.models import Group, Permission

    for name, dotted in GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        wanted = [tuple(d.split(".")) for d in dotted]
        perms = [Permission.objects.get(content_type__app_label=app, codename=code) for app, code in wanted]
        group.permissions.add(*perms)
