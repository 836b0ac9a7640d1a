"""Writes on ruleset versions (issue 15): draft, edit, submit, approve, publish, roll back.

Each is one transaction with its audit row (`sunusav.audit_trail.action_record`,
target the version), whose `after` carries a readable diff of the rules
against the version it started from. Four eyes: whoever created, edited or
submitted a version cannot approve it (`RulesetNotAllowed`), and approving
needs `fraud.approve_ruleset`, publishing and rolling back
`fraud.publish_ruleset`. A rule that does not compile is refused with the
engine's French message naming the rule and position, and nothing changes.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from fraud.models_lists import RuleList
from fraud.models_rules import Rule, RuleSet
from fraud.rules_engine import RuleExpressionError, compile_rule, compile_ruleset
from fraud.ruleset_selectors import ruleset_diff, ruleset_makers, ruleset_published
from fraud.ruleset_serving import serving_invalidate
from sunusav.audit_trail import action_record
from sunusav.models import AnalystAction

Status = RuleSet.Status
Action = AnalystAction.Action


class RulesetError(Exception):
    """A change refused: the message (French) says why."""


class RulesetInvalid(RulesetError):
    """A rule that does not compile (wraps `RuleExpressionError`: rule and position)."""

    def __init__(self, error: RuleExpressionError):
        self.error = error
        super().__init__(str(error))


class RulesetNotAllowed(RulesetError):
    """The actor may not do this (permission, or four eyes)."""


class RulesetWrongState(RulesetError):
    """The version is not in the state this step starts from."""


def _require_perm(actor, perm: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise RulesetNotAllowed(_("Vous n'avez pas le droit de faire cette action sur les règles de fraude."))


def _locked(ruleset: RuleSet, *states: str) -> RuleSet:
    row = RuleSet.objects.select_for_update().get(pk=ruleset.pk)
    if states and row.status not in states:
        raise RulesetWrongState(
            _("La version %(number)s est « %(status)s » : cette action n'est pas possible.")
            % {"number": row.number, "status": row.get_status_display()}
        )
    return row


def _specs(ruleset: RuleSet) -> list[dict]:
    return [rule.spec() for rule in ruleset.rules.all()]


def _lists() -> dict[str, str]:
    return dict(RuleList.objects.values_list("name", "subject"))


def _compile(ruleset: RuleSet):
    try:
        return compile_ruleset(_specs(ruleset), version=ruleset.label, lists=_lists())
    except RuleExpressionError as exc:
        raise RulesetInvalid(exc) from None


def _copy(source: RuleSet, *, actor, status: str, note: str) -> RuleSet:
    for _attempt in range(3):
        number = (RuleSet.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                copy = RuleSet.objects.create(
                    number=number, status=status, based_on=source, note=note, created_by=actor
                )
        except IntegrityError:  # another session took the number: take the next
            continue
        Rule.objects.bulk_create([Rule(ruleset=copy, **rule.spec()) for rule in source.rules.all()])
        return copy
    raise RulesetError(_("Impossible de numéroter la nouvelle version : réessayez."))


@transaction.atomic
def ruleset_draft_create(*, actor, based_on: RuleSet | None = None, note: str = "") -> RuleSet:
    """Create a draft: a copy of `based_on` (by default the published version)."""
    _require_perm(actor, "fraud.add_ruleset")
    source = based_on or ruleset_published()
    if source is None:
        raise RulesetError(_("Aucune version publiée à copier."))
    draft = _copy(source, actor=actor, status=Status.DRAFT, note=note)
    action_record(
        actor=actor,
        action=Action.RULESET_DRAFT,
        target=draft,
        after={"number": draft.number, "based_on": source.number, "status": draft.status},
        note=note,
    )
    return draft


EDITABLE = ("name_fr", "name_en", "reason_fr", "reason_en", "expression", "effect", "weight", "priority", "enabled")


@transaction.atomic
def ruleset_rule_save(*, actor, ruleset: RuleSet, rule_id: str, note: str = "", **fields) -> Rule:
    """Create or change one rule of a draft; refuse (nothing saved) a rule that does not compile."""
    _require_perm(actor, "fraud.change_rule")
    draft = _locked(ruleset, Status.DRAFT)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise RulesetError(_("Champs inconnus : %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    before_rules = _specs(draft)
    rule = draft.rules.filter(rule_id=rule_id).first() or Rule(ruleset=draft, rule_id=rule_id)
    for name, value in fields.items():
        setattr(rule, name, value)
    if rule.effect != Rule.Effect.WEIGHT:
        rule.weight = 0.0
    try:
        compile_rule(rule.spec(), lists=_lists())
    except RuleExpressionError as exc:
        raise RulesetInvalid(exc) from None
    rule.full_clean(exclude=["ruleset"], validate_unique=False)
    rule.save()
    after_rules = _specs(draft)
    action_record(
        actor=actor,
        action=Action.RULESET_EDIT,
        target=draft,
        before={"number": draft.number},
        after={"number": draft.number, "rule_id": rule_id, "diff": ruleset_diff(before_rules, after_rules)},
        note=note,
    )
    return rule


def ruleset_rule_check(*, rule_id: str, expression: str) -> None:
    """Check one rule's expression as `ruleset_rule_save` does (today's lists); write nothing.

    The rule editor calls it as the admin types; a bad expression raises
    `RulesetInvalid` with the same French message the save would give.
    """
    try:
        compile_rule({"rule_id": rule_id, "expression": expression}, lists=_lists())
    except RuleExpressionError as exc:
        raise RulesetInvalid(exc) from None


@transaction.atomic
def ruleset_rule_delete(*, actor, ruleset: RuleSet, rule_id: str, note: str = "") -> None:
    """Remove one rule from a draft."""
    _require_perm(actor, "fraud.change_rule")
    draft = _locked(ruleset, Status.DRAFT)
    before_rules = _specs(draft)
    deleted, _count = draft.rules.filter(rule_id=rule_id).delete()
    if not deleted:
        raise RulesetError(_("Règle « %(rule)s » introuvable.") % {"rule": rule_id})
    action_record(
        actor=actor,
        action=Action.RULESET_EDIT,
        target=draft,
        after={"number": draft.number, "rule_id": rule_id, "diff": ruleset_diff(before_rules, _specs(draft))},
        note=note,
    )


def _against_published(ruleset: RuleSet) -> dict:
    published = ruleset_published()
    base = _specs(published) if published is not None and published.pk != ruleset.pk else []
    return {
        "against": published.number if published is not None else None,
        "diff": ruleset_diff(base, _specs(ruleset)),
    }


@transaction.atomic
def ruleset_submit(*, actor, ruleset: RuleSet, note: str = "") -> RuleSet:
    """Submit a draft for a second risk admin's approval; every rule must compile."""
    _require_perm(actor, "fraud.change_ruleset")
    draft = _locked(ruleset, Status.DRAFT)
    _compile(draft)
    draft.status, draft.submitted_by, draft.submitted_at = Status.SUBMITTED, actor, timezone.now()
    draft.save(update_fields=["status", "submitted_by", "submitted_at"])
    action_record(
        actor=actor,
        action=Action.RULESET_SUBMIT,
        target=draft,
        before={"status": Status.DRAFT},
        after={"status": draft.status, "number": draft.number, **_against_published(draft)},
        note=note,
    )
    return draft


@transaction.atomic
def ruleset_send_back(*, actor, ruleset: RuleSet, note: str) -> RuleSet:
    """Return a submitted version to draft (the checker refuses it, with a reason)."""
    _require_perm(actor, "fraud.approve_ruleset")
    row = _locked(ruleset, Status.SUBMITTED)
    if not note.strip():
        raise RulesetError(_("Dites pourquoi la version est renvoyée."))
    row.status, row.submitted_by, row.submitted_at, row.shadow = Status.DRAFT, None, None, False
    row.save(update_fields=["status", "submitted_by", "submitted_at", "shadow"])
    transaction.on_commit(serving_invalidate)
    action_record(
        actor=actor,
        action=Action.RULESET_SUBMIT,
        target=row,
        before={"status": Status.SUBMITTED},
        after={"status": row.status, "number": row.number, "sent_back": True},
        note=note,
    )
    return row


@transaction.atomic
def ruleset_approve(*, actor, ruleset: RuleSet, note: str = "") -> RuleSet:
    """Approve a submitted version: the second pair of eyes, who neither wrote nor submitted it."""
    _require_perm(actor, "fraud.approve_ruleset")
    row = _locked(ruleset, Status.SUBMITTED)
    if actor.pk in ruleset_makers(row):
        raise RulesetNotAllowed(
            _("Quatre yeux : vous avez écrit ou soumis cette version, un autre administrateur doit l'approuver.")
        )
    _compile(row)
    row.status, row.approved_by, row.approved_at = Status.APPROVED, actor, timezone.now()
    row.save(update_fields=["status", "approved_by", "approved_at"])
    action_record(
        actor=actor,
        action=Action.RULESET_APPROVE,
        target=row,
        before={"status": Status.SUBMITTED},
        after={"status": row.status, "number": row.number, **_against_published(row)},
        note=note,
    )
    return row


def _retire_published(now) -> RuleSet | None:
    current = RuleSet.objects.select_for_update().filter(status=Status.PUBLISHED).first()
    if current is not None:
        current.status = Status.RETIRED
        current.save(update_fields=["status"])
    return current


@transaction.atomic
def ruleset_publish(*, actor, ruleset: RuleSet, note: str = "") -> RuleSet:
    """Publish an approved version in one transaction: it replaces the published one for every worker."""
    _require_perm(actor, "fraud.publish_ruleset")
    row = _locked(ruleset, Status.APPROVED)
    _compile(row)
    now = timezone.now()
    change = _against_published(row)
    previous = _retire_published(now)
    row.status, row.published_by, row.published_at, row.shadow = Status.PUBLISHED, actor, now, False
    row.save(update_fields=["status", "published_by", "published_at", "shadow"])
    transaction.on_commit(serving_invalidate)  # this process at once; the others within the refresh interval
    action_record(
        actor=actor,
        action=Action.RULESET_PUBLISH,
        target=row,
        before={"published": previous.number if previous else None},
        after={"published": row.number, "status": row.status, **change},
        note=note,
    )
    return row


@transaction.atomic
def ruleset_rollback(*, actor, to: RuleSet, note: str) -> RuleSet:
    """Publish again an earlier published version's rules, as a new version (the history stays)."""
    _require_perm(actor, "fraud.publish_ruleset")
    target = RuleSet.objects.get(pk=to.pk)
    if target.published_at is None:
        raise RulesetWrongState(_("On ne revient qu'à une version qui a été publiée."))
    if target.status == Status.PUBLISHED:
        raise RulesetWrongState(_("Cette version est déjà celle qui est publiée."))
    if not note.strip():
        raise RulesetError(_("Dites pourquoi vous revenez à cette version."))
    now = timezone.now()
    copy = _copy(target, actor=actor, status=Status.DRAFT, note=note)
    change = _against_published(copy)
    previous = _retire_published(now)
    copy.status, copy.published_by, copy.published_at = Status.PUBLISHED, actor, now
    copy.save(update_fields=["status", "published_by", "published_at"])
    transaction.on_commit(serving_invalidate)
    action_record(
        actor=actor,
        action=Action.RULESET_ROLLBACK,
        target=copy,
        before={"published": previous.number if previous else None},
        after={"published": copy.number, "copy_of": target.number, **change},
        note=note,
    )
    return copy


@transaction.atomic
def ruleset_backtest_store(*, actor, ruleset: RuleSet, report: dict) -> RuleSet:
    """Keep a backtest's report on its version (the job's last step)."""
    row = _locked(ruleset)
    row.backtest = report
    row.save(update_fields=["backtest"])
    action_record(
        actor=actor,
        action=Action.RULESET_BACKTEST,
        target=row,
        after={"number": row.number, "window_days": report.get("window_days"), "payments": report.get("payments")},
    )
    return row


SHADOW_STATES = (Status.SUBMITTED, Status.APPROVED)


@transaction.atomic
def ruleset_shadow_set(*, actor, ruleset: RuleSet, on: bool, note: str = "") -> RuleSet:
    """Run a submitted or approved version in shadow on live traffic (one at a time), or stop it."""
    _require_perm(actor, "fraud.change_ruleset")
    row = _locked(ruleset, *SHADOW_STATES) if on else _locked(ruleset)
    _compile(row)
    previous = list(
        RuleSet.objects.select_for_update().filter(shadow=True).exclude(pk=row.pk).values_list("number", flat=True)
    )
    RuleSet.objects.filter(shadow=True).exclude(pk=row.pk).update(shadow=False)
    row.shadow = on
    row.save(update_fields=["shadow"])
    transaction.on_commit(serving_invalidate)
    action_record(
        actor=actor,
        action=Action.RULESET_SHADOW,
        target=row,
        before={"shadow": previous},
        after={"number": row.number, "shadow": on},
        note=note,
    )
    return row
