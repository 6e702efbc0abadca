"""Every shipped rule file loads, every rule has a case that fires and one that does not,
and every example passes on both backends (python-statemachine's format-parity idea)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions.riskconfig import load_risk_config
from engine.definitions.rules import example_contract, load_rule_dir, parse_rule_text
from engine.risk.durable_compile import MAX_RULES_PER_RULESET, compile_rules
from engine.services.rules import example_failures
from engine.settings import PROJECT_ROOT

RULE_FILES = sorted((PROJECT_ROOT / "rules").glob("*.yaml"))
CONFIG = load_risk_config(PROJECT_ROOT / "config" / "risk.yaml")
RULES = load_rule_dir(PROJECT_ROOT / "rules", CONFIG.parameters)
EXAMPLES = [(r, ex) for r in RULES.rules for ex in r.examples]


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.name for p in RULE_FILES])
def test_rule_file_loads_and_every_rule_has_both_kinds_of_example(path: Path) -> None:
    rules = parse_rule_text(path.read_text(), str(path), CONFIG.parameters)
    assert rules
    for rule in rules:
        assert any(ex.fires for ex in rule.examples), f"{rule.id}: no example that fires"
        assert any(not ex.fires for ex in rule.examples), f"{rule.id}: no example that does not"


@pytest.mark.parametrize(
    ("rule", "example"), EXAMPLES, ids=[f"{r.id}: {ex.name}" for r, ex in EXAMPLES]
)
def test_shipped_example(rule, example, backend) -> None:  # type: ignore[no-untyped-def]
    contract = example_contract(example, CONFIG.currencies)
    report = backend.evaluate([contract], example.as_of, {**example.written_for, **example.params})[
        0
    ]
    assert example_failures(rule, example, report.flags) == []


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.name for p in RULE_FILES])
def test_every_example_carries_the_thresholds_its_rule_reads(path: Path) -> None:
    """So tuning config/risk.yaml cannot make the rules' own examples fail (docs/rules.md)."""
    for rule in parse_rule_text(path.read_text(), str(path), CONFIG.parameters):
        for ex in rule.examples:
            missing = set(rule.params) - set(ex.written_for)
            assert not missing, f"{path.name}: {rule.id}: {ex.name}: no params: for {missing}"


def test_catalogue_compiles_under_the_engine_rule_cap() -> None:
    plan = compile_rules(RULES)
    assert len(plan.rulesets) == 1
    assert plan.rule_count < MAX_RULES_PER_RULESET
    for ruleset in plan.rulesets:
        for body in ruleset.values():
            for pattern in body["all"]:
                expr = next(iter(pattern.values()))
                parts = expr.get("$and", [expr])
                assert any("t" in p for p in parts), f"untagged pattern {pattern}"
