"""Deeply nested `when` expressions and rule conditions are refused with one line naming
`file:line` and the limit, never a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions.rules import load_rule_texts
from engine.definitions.workflows import load_workflow_text
from engine.errors import InvalidDefinition
from engine.expressions import ExpressionError, parse

MAX_DEPTH = 32  # engine.expressions.MAX_DEPTH, written out so the test runs on older code
MAX_COND_DEPTH = 16  # engine.definitions.rules.MAX_COND_DEPTH

CONFIG = Path(__file__).resolve().parents[3] / "config"

NESTED = {
    "10,000 parentheses": "(" * 10_000 + "amount > 1" + ")" * 10_000,
    "10,000 nots": "not " * 10_000 + "amount > 1",
    "mixed": "not (" * 5_000 + "amount > 1" + ")" * 5_000,
}


@pytest.mark.parametrize("case", NESTED, ids=str)
def test_deeply_nested_when_is_refused_with_the_limit_not_a_recursion_error(case: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(NESTED[case])
    assert info.value.message == f"expression nested too deeply (limit {MAX_DEPTH})"


def test_nesting_up_to_the_limit_still_parses_and_evaluates() -> None:
    text = "(" * (MAX_DEPTH - 1) + "not amount > 1" + ")" * (MAX_DEPTH - 1)
    assert parse(text).evaluate({"amount": 0}) is True


def _workflow_with(when: str) -> str:
    text = (CONFIG / "workflows" / "fast_track.yaml").read_text()
    original = 'when: risk.max_severity >= "medium" or amount_base > 500000'
    assert original in text
    return text.replace(original, f"when: {when}")


@pytest.mark.parametrize("case", NESTED, ids=str)
def test_workflow_file_with_a_deep_when_names_file_line_and_limit(case: str) -> None:
    source = "config/workflows/fast_track.yaml"
    with pytest.raises(InvalidDefinition) as info:
        load_workflow_text(_workflow_with(NESTED[case]), source)
    [line] = info.value.lines()
    assert line.startswith(f"{source}:17: ")
    assert f"expression nested too deeply (limit {MAX_DEPTH})" in line
    assert len(line) < 300  # the 20,000-character condition is not echoed back


def _rule_file(depth: int) -> str:
    cond = "{field: amount, gt: 1}"
    for _ in range(depth):
        cond = "{not: " + cond + "}"
    return (
        "rules:\n"
        "  - id: deep.rule\n"
        "    category: payment_terms\n"
        "    description: d\n"
        f"    when: {cond}\n"
        "    severity: low\n"
        "    message: m\n"
    )


def test_rule_condition_nested_past_the_limit_names_file_line_and_limit() -> None:
    with pytest.raises(InvalidDefinition) as info:
        load_rule_texts({"rules/deep.yaml": _rule_file(MAX_COND_DEPTH + 1)}, set())
    assert info.value.lines() == [
        f"rules/deep.yaml:5: expression nested too deeply (limit {MAX_COND_DEPTH} levels "
        "of all / any / not / where)"
    ]


def test_rule_condition_at_the_limit_loads() -> None:
    rules = load_rule_texts({"rules/deep.yaml": _rule_file(MAX_COND_DEPTH)}, set())
    assert [r.id for r in rules.rules] == ["deep.rule"]
