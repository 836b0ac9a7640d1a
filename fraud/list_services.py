"""Writes on the rules' lists (issue 15): create a list, add or remove entries, import a CSV; each audited.

Phone numbers are hashed on the way in (`sunusav.hashing.phone_hash`): a
list of phones never holds one in clear, and a value that already is a hash
(64 hex digits) is kept as it is. A new or changed entry reaches the checks
within the serving cache's refresh interval (`fraud.ruleset_serving`).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from fraud.models_lists import RuleList, RuleListEntry, RuleSuppression
from fraud.ruleset_services import RulesetError, RulesetNotAllowed
from fraud.ruleset_serving import serving_invalidate
from sunusav.audit_trail import action_record
from sunusav.hashing import phone_hash
from sunusav.models import AnalystAction

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
IMPORT_MAX_ROWS = 50_000


class ListError(RulesetError):
    """A list change refused (French message)."""


def _require(actor, perm: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise RulesetNotAllowed(_("Vous n'avez pas le droit de modifier les listes des règles."))


def _stored_value(rule_list: RuleList, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ListError(_("Valeur vide."))
    if rule_list.subject == RuleList.Subject.PHONE and not _HEX64.match(value.lower()):
        return phone_hash(value.replace(" ", ""))
    if rule_list.subject == RuleList.Subject.PHONE:
        return value.lower()
    if len(value) > 128:
        raise ListError(_("Valeur trop longue (128 caractères au plus)."))
    return value


@transaction.atomic
def rule_list_create(*, actor, name: str, kind: str, subject: str, description: str = "") -> RuleList:
    _require(actor, "fraud.add_rulelist")
    if RuleList.objects.filter(name=name).exists():
        raise ListError(_("La liste « %(name)s » existe déjà.") % {"name": name})
    rule_list = RuleList(name=name, kind=kind, subject=subject, description=description)
    rule_list.full_clean()
    rule_list.save()
    action_record(
        actor=actor,
        action=AnalystAction.Action.LIST_CHANGE,
        target=rule_list,
        after={"list": name, "kind": kind, "subject": subject, "created": True},
    )
    return rule_list


@transaction.atomic
def rule_list_entry_add(
    *, actor, rule_list: RuleList, value: str, reason: str, expires_at: datetime | None = None
) -> RuleListEntry:
    """Add (or renew: reason and expiry replaced) one entry."""
    _require(actor, "fraud.change_rulelistentry")
    if not (reason or "").strip():
        raise ListError(_("Dites pourquoi cette valeur est dans la liste."))
    stored = _stored_value(rule_list, value)
    entry = RuleListEntry.objects.select_for_update().filter(rule_list=rule_list, value=stored).first()
    before = (
        {}
        if entry is None
        else {"reason": entry.reason, "expires_at": entry.expires_at and entry.expires_at.isoformat()}
    )
    if entry is None:
        entry = RuleListEntry(rule_list=rule_list, value=stored, created_by=actor)
    entry.reason, entry.expires_at = reason.strip(), expires_at
    entry.save()
    transaction.on_commit(serving_invalidate)
    action_record(
        actor=actor,
        action=AnalystAction.Action.LIST_CHANGE,
        target=rule_list,
        before={"value": stored, **before},
        after={"value": stored, "reason": entry.reason, "expires_at": expires_at and expires_at.isoformat()},
    )
    return entry


@transaction.atomic
def rule_list_entry_remove(*, actor, rule_list: RuleList, value: str, note: str = "") -> None:
    _require(actor, "fraud.change_rulelistentry")
    stored = _stored_value(rule_list, value)
    entry = RuleListEntry.objects.filter(rule_list=rule_list, value=stored).first()
    if entry is None:
        raise ListError(_("Cette valeur n'est pas dans la liste."))
    entry.delete()
    transaction.on_commit(serving_invalidate)
    action_record(
        actor=actor,
        action=AnalystAction.Action.LIST_CHANGE,
        target=rule_list,
        before={"value": stored, "reason": entry.reason},
        after={"value": stored, "removed": True},
        note=note,
    )


def _expiry(text: str, line: int):
    text = (text or "").strip()
    if not text:
        return None
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise ListError(
                _("Ligne %(line)s : date d'expiration illisible « %(text)s ».") % {"line": line, "text": text}
            )
        moment = datetime.combine(day, datetime.max.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@transaction.atomic
def rule_list_import_csv(*, actor, rule_list: RuleList, content: str, default_reason: str = "") -> dict:
    """Import `value[,reason[,expires_at]]` rows (a header row `value,...` is skipped): all or nothing."""
    _require(actor, "fraud.change_rulelistentry")
    rows = list(csv.reader(io.StringIO(content)))
    if rows and rows[0] and rows[0][0].strip().lower() in ("value", "valeur"):
        rows = rows[1:]
    if len(rows) > IMPORT_MAX_ROWS:
        raise ListError(_("Trop de lignes (%(max)s au plus).") % {"max": IMPORT_MAX_ROWS})
    parsed = {}
    for line, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip():
            continue
        value = _stored_value(rule_list, row[0])
        reason = (row[1] if len(row) > 1 else "").strip() or default_reason.strip()
        if not reason:
            raise ListError(_("Ligne %(line)s : motif manquant.") % {"line": line})
        parsed[value] = (reason[:400], _expiry(row[2] if len(row) > 2 else "", line))
    existing = {
        e.value: e for e in RuleListEntry.objects.select_for_update().filter(rule_list=rule_list, value__in=parsed)
    }
    added = updated = 0
    new = []
    for value, (reason, expires_at) in parsed.items():
        if value in existing:
            entry = existing[value]
            entry.reason, entry.expires_at = reason, expires_at
            entry.save(update_fields=["reason", "expires_at"])
            updated += 1
        else:
            new.append(
                RuleListEntry(rule_list=rule_list, value=value, reason=reason, expires_at=expires_at, created_by=actor)
            )
            added += 1
    RuleListEntry.objects.bulk_create(new)
    transaction.on_commit(serving_invalidate)
    summary = {"added": added, "updated": updated}
    action_record(
        actor=actor,
        action=AnalystAction.Action.LIST_IMPORT,
        target=rule_list,
        after={"list": rule_list.name, **summary, "values": sorted(parsed)[:50]},
    )
    return summary


@transaction.atomic
def rule_suppression_add(*, actor, member_ref: str, rule_id: str, until: datetime, reason: str) -> RuleSuppression:
    """Snooze one rule for one member until a date (an analyst's call, with a reason)."""
    _require(actor, "fraud.add_rulesuppression")
    if not (reason or "").strip():
        raise ListError(_("Dites pourquoi cette règle est mise en sourdine pour ce membre."))
    if until <= timezone.now():
        raise ListError(_("La date de fin doit être à venir."))
    suppression = RuleSuppression.objects.create(
        member_ref=member_ref.strip(), rule_id=rule_id, until=until, reason=reason.strip(), created_by=actor
    )
    transaction.on_commit(serving_invalidate)
    action_record(
        actor=actor,
        action=AnalystAction.Action.RULE_SUPPRESS,
        target=suppression,
        after={
            "member": suppression.member_ref,
            "rule_id": rule_id,
            "until": until.isoformat(),
            "reason": suppression.reason,
        },
    )
    return suppression


@transaction.atomic
def rule_suppression_end(*, actor, suppression: RuleSuppression, note: str = "") -> RuleSuppression:
    """End a snooze now."""
    _require(actor, "fraud.change_rulesuppression")
    row = RuleSuppression.objects.select_for_update().get(pk=suppression.pk)
    before = row.until.isoformat()
    row.until = min(row.until, timezone.now())
    row.save(update_fields=["until"])
    transaction.on_commit(serving_invalidate)
    action_record(
        actor=actor,
        action=AnalystAction.Action.RULE_SUPPRESS,
        target=row,
        before={"until": before},
        after={"member": row.member_ref, "rule_id": row.rule_id, "until": row.until.isoformat(), "ended": True},
        note=note,
    )
    return row
