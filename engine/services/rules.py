"""Rule-set use cases: load and check the rules, run their examples, check one contract."""

from __future__ import annotations

from engine.definitions.rules import load_rule_dir
from engine.domain.rules import RuleSet
from engine.services.runtime import Runtime


def active_rules(rt: Runtime) -> RuleSet:
    """The rule set in force."""
    return load_rule_dir(rt.settings.rules_dir, rt.risk_config.parameters)
