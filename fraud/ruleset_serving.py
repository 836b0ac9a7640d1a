"""The published ruleset, compiled once per version and cached per process (issue 15).

`serving_ruleset()` is the hot path's call: it re-reads which version is
published at most every `ML_REGISTRY_REFRESH_SECONDS` (the model registry's
interval: a publication reaches every worker within it, no restart) and
compiles a version's rules only when the published version changed. A
publication in this process invalidates at once (on commit).

Without a published version in the database (a flushed test database) or
when it cannot be read, the built-in v1 (today's six rules with
`DEFAULT_PARAMS`, identical to the migration's) serves; a published version
that no longer compiles is logged and the last good one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from fraud.models_lists import RuleList, RuleListEntry, RuleSuppression
from fraud.models_rules import Rule, RuleSet
from fraud.rules_engine import CompiledRuleset, compile_ruleset, default_rule_specs

logger = logging.getLogger(__name__)

BUILTIN_VERSION = "ruleset-v1"


class _Cache:
    def __init__(self):
        self._lock = threading.Lock()
        self._ruleset: CompiledRuleset | None = None
        self._key: tuple | None = None
        self._shadow: CompiledRuleset | None = None
        self._shadow_key: tuple | None = None
        self._checked_at = float("-inf")
        self._builtin: CompiledRuleset | None = None

    def builtin(self) -> CompiledRuleset:
        if self._builtin is None:
            self._builtin = compile_ruleset(default_rule_specs(), version=BUILTIN_VERSION)
        return self._builtin

    def _fresh(self) -> bool:
        return time.monotonic() - self._checked_at < settings.ML_REGISTRY_REFRESH_SECONDS

    def get(self) -> CompiledRuleset:
        ruleset = self._ruleset
        if ruleset is not None and self._fresh():
            return ruleset
        with self._lock:
            if self._ruleset is None or not self._fresh():
                self._refresh()
            return self._ruleset

    def get_both(self) -> tuple[CompiledRuleset, CompiledRuleset | None]:
        """(published, shadow or None), from one refresh."""
        published = self.get()
        return published, self._shadow

    @staticmethod
    def _compiled(row) -> CompiledRuleset | None:
        specs = list(Rule.objects.filter(ruleset_id=row[0]).values(*Rule.SPEC_FIELDS))
        try:
            lists = dict(RuleList.objects.values_list("name", "subject"))
            return compile_ruleset(specs, version=f"ruleset-v{row[1]}", lists=lists)
        except Exception:
            logger.exception("ruleset v%s does not compile", row[1])
            return None

    def _refresh(self) -> None:
        self._checked_at = time.monotonic()
        try:
            rows = list(
                RuleSet.objects.filter(Q(status=RuleSet.Status.PUBLISHED) | Q(shadow=True)).values_list(
                    "pk", "number", "status", "shadow"
                )
            )
            published = next((r[:2] for r in rows if r[2] == RuleSet.Status.PUBLISHED), None)
            shadow = next((r[:2] for r in rows if r[3] and r[2] != RuleSet.Status.PUBLISHED), None)
            if published is None:
                self._ruleset, self._key = self.builtin(), None
            elif published != self._key or self._ruleset is None:
                compiled = self._compiled(published)
                if compiled is not None:  # else the last good one keeps serving
                    logger.info("ruleset v%s compiled (%d rules)", published[1], len(compiled.rules))
                    self._ruleset, self._key = compiled, published
            if shadow is None:
                self._shadow, self._shadow_key = None, None
            elif shadow != self._shadow_key:
                self._shadow, self._shadow_key = self._compiled(shadow), shadow
            # Lists and snoozes change without a new version: re-read at every refresh.
            suppressed = suppressions_active()
            for ruleset in (self._ruleset, self._shadow):
                if ruleset is not None and ruleset.list_refs:
                    ruleset.list_values = list_values_active({name for _subject, name in ruleset.list_refs})
                if ruleset is not None:
                    ruleset.suppressed = suppressed
        except Exception as exc:  # the database is unreachable (or closed to this test): keep what serves
            logger.debug("published ruleset unreadable: %s", exc)
        if self._ruleset is None:
            self._ruleset = self.builtin()

    def invalidate(self) -> None:
        with self._lock:
            self._checked_at = float("-inf")
            self._key = None
            self._shadow_key = None


_cache = _Cache()


def list_values_active(names: set[str]) -> dict[str, frozenset]:
    """{list name: its active values} (no expiry, or one still ahead)."""
    out: dict[str, set] = {name: set() for name in names}
    rows = RuleListEntry.objects.filter(RuleListEntry.active_q(), rule_list__name__in=names).values_list(
        "rule_list__name", "value"
    )
    for name, value in rows:
        out[name].add(value)
    return {name: frozenset(values) for name, values in out.items()}


def suppressions_active() -> dict[str, frozenset]:
    """{member reference: rule ids snoozed for that member until a date still ahead}."""
    out: dict[str, set] = {}
    for member, rule_id in RuleSuppression.objects.filter(until__gt=timezone.now()).values_list(
        "member_ref", "rule_id"
    ):
        out.setdefault(member, set()).add(rule_id)
    return {member: frozenset(ids) for member, ids in out.items()}


def serving_ruleset() -> CompiledRuleset:
    """The compiled published ruleset (the hot path's call)."""
    return _cache.get()


def serving_rulesets() -> tuple[CompiledRuleset, CompiledRuleset | None]:
    """(the published ruleset, the version in shadow or None): the hot path's call."""
    return _cache.get_both()


def serving_invalidate() -> None:
    """Re-read the published version at the next call (after a publication, a rollback, a test's flush)."""
    _cache.invalidate()
