"""Reads on ruleset versions (issue 15): the published one, who made a version, diffs between versions."""

from __future__ import annotations

from django.utils.translation import gettext as _

from alerts.models import AIMetric
from fraud.models_rules import Rule, RuleSet
from sunusav.models import AnalystAction

DIFF_FIELDS = tuple(f for f in Rule.SPEC_FIELDS if f != "rule_id")


def ruleset_published() -> RuleSet | None:
    """The published version, or None."""
    return RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()


def ruleset_makers(ruleset: RuleSet) -> set[int]:
    """Ids of the users who created, edited or submitted this version: none of them may approve it."""
    makers = {ruleset.created_by_id, ruleset.submitted_by_id}
    makers |= set(
        AnalystAction.objects.filter(
            target_type=RuleSet._meta.model_name,
            target_id=str(ruleset.pk),
            action__in=[AnalystAction.Action.RULESET_DRAFT, AnalystAction.Action.RULESET_EDIT],
        ).values_list("actor_id", flat=True)
    )
    return {m for m in makers if m is not None}


def ruleset_diff(old: list[dict], new: list[dict]) -> dict:
    """Diff of two versions' rule specs: ids added and removed, and for each changed rule {field: [old, new]}."""
    before = {r["rule_id"]: r for r in old}
    after = {r["rule_id"]: r for r in new}
    changed = {}
    for rule_id in sorted(before.keys() & after.keys()):
        fields = {
            f: [before[rule_id][f], after[rule_id][f]] for f in DIFF_FIELDS if before[rule_id][f] != after[rule_id][f]
        }
        if fields:
            changed[rule_id] = fields
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": changed,
    }


def ruleset_diff_lines(diff: dict, new: list[dict] | None = None) -> list[str]:
    """The diff as sentences (French; the admin shows them)."""
    labels = {f: str(Rule._meta.get_field(f).verbose_name) for f in DIFF_FIELDS}
    expressions = {r["rule_id"]: r["expression"] for r in new or []}
    lines = []
    for rule_id in diff.get("added", []):
        line = _("Règle « %(rule)s » ajoutée") % {"rule": rule_id}
        if rule_id in expressions:
            line += " : " + expressions[rule_id]
        lines.append(line)
    for rule_id in diff.get("removed", []):
        lines.append(_("Règle « %(rule)s » retirée") % {"rule": rule_id})
    for rule_id, fields in diff.get("changed", {}).items():
        for field, (old, new_value) in fields.items():
            lines.append(
                _("Règle « %(rule)s », %(field)s : « %(old)s » → « %(new)s »")
                % {"rule": rule_id, "field": labels.get(field, field), "old": old, "new": new_value}
            )
    return lines or [_("Aucune différence.")]


def ruleset_diff_against_published(ruleset: RuleSet) -> tuple[RuleSet | None, dict]:
    """(the published version, the diff from it to `ruleset`)."""
    published = ruleset_published()
    base = [r.spec() for r in published.rules.all()] if published is not None else []
    return published, ruleset_diff(base, [r.spec() for r in ruleset.rules.all()])


SHADOW_ROWS = 5000
SHADOW_EXAMPLES = 10


def ruleset_shadow_comparison(ruleset: RuleSet, *, limit: int = SHADOW_ROWS) -> dict:
    """Compare a shadow version's would-be decisions with the real ones, from the latest checks' audit rows."""
    rows = (
        AIMetric.objects.filter(metric_key="fraud_check", meta__ruleset_shadow__ruleset_version=ruleset.label)
        .order_by("-created_at")
        .values_list("meta", "created_at")[:limit]
    )
    confusion: dict[tuple[str, str], int] = {}
    examples = []
    total = agree = 0
    for meta, created_at in rows:
        real, shadow = meta.get("decision"), (meta.get("ruleset_shadow") or {}).get("decision")
        total += 1
        agree += real == shadow
        confusion[(real, shadow)] = confusion.get((real, shadow), 0) + 1
        if real != shadow and len(examples) < SHADOW_EXAMPLES:
            examples.append(
                {
                    "payment_id": meta.get("payment_id"),
                    "created_at": created_at,
                    "real": real,
                    "shadow": shadow,
                    "rules_fired": meta["ruleset_shadow"].get("rules_fired", []),
                }
            )
    return {
        "checks": total,
        "agree": agree,
        "agreement": None if total == 0 else round(agree / total, 4),
        "confusion": [{"real": r, "shadow": s, "count": n} for (r, s), n in sorted(confusion.items(), key=str)],
        "examples": examples,
    }
