"""Fraud models. Decisions are audited in `ai_metrics`; holds are `payments.status = held`.

Rules as data (issue 15) live in `fraud.models_rules`: ruleset versions and
their rules. Imported here so Django loads them with the app.
"""

from fraud.models_lists import RuleList, RuleListEntry, RuleSuppression
from fraud.models_rules import Rule, RuleSet

__all__ = ["Rule", "RuleList", "RuleListEntry", "RuleSet", "RuleSuppression"]
