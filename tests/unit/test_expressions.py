"""The `when` language: parses once, type-checks against the vocabulary, never evals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from engine.definitions.contracts import load_contract_file
from engine.expressions import (
    VOCABULARY,
    ExpressionError,
    context_for,
    export_vocabulary,
    parse,
)
from tests.support import EXAMPLES


def ctx(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "amount": Decimal("2400000"),
        "amount_base": Decimal("2400000"),
        "direction": "sell",
        "currency": "CNY",
        "counterparty.credit_rating": "BBB",
        "counterparty.country": "CN",
        "risk.max_severity": "medium",
        "risk.categories": ["payment_terms"],
        "start_date": dt.date(2026, 12, 1),
        "auto_renewal": False,
        "liability_cap_percent": None,
    }
    base.update(values)
    return base


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount_base > 1000000", True),
        ("amount_base > 2400000", False),
        ("amount_base >= 2400000", True),
        ("amount <= 2400000.00", True),
        ('direction == "sell"', True),
        ("direction != 'sell'", False),
        ('risk.max_severity >= "medium"', True),
        ('risk.max_severity >= "high"', False),
        ('risk.max_severity < "high"', True),
        ('"payment_terms" in risk.categories', True),
        ('"guarantees" in risk.categories', False),
        ('"guarantees" not in risk.categories', True),
        ('currency in ["CNY", "USD"]', True),
        ('currency not in ["CNY", "USD"]', False),
        ('risk.max_severity in ["high", "critical"]', False),
        ('counterparty.credit_rating <= "BB"', False),
        ('counterparty.credit_rating >= "BBB"', True),
        ('counterparty.credit_rating > "A"', False),
        ('start_date >= "2026-12-01"', True),
        ("auto_renewal", False),
        ("not auto_renewal", True),
        ("auto_renewal == false", True),
        ("liability_cap_percent == null", True),
        ("liability_cap_percent > 100", False),
        ('amount_base > 1000000 and direction == "buy"', False),
        ('amount_base > 1000000 or direction == "buy"', True),
        ('not (amount_base > 1000000 and direction == "buy")', True),
        ('direction == "buy" or amount > 1 and currency == "USD"', False),
        ("1000000 < amount_base", True),
    ],
)
def test_conditions_evaluate_as_written(text: str, expected: bool) -> None:
    assert parse(text).evaluate(ctx()) is expected


def test_severities_compare_by_rank_not_alphabetically() -> None:
    # Alphabetically "critical" < "high"; by rank it is above.
    assert parse('risk.max_severity >= "high"').evaluate(ctx(**{"risk.max_severity": "critical"}))
    assert not parse('risk.max_severity > "low"').evaluate(ctx(**{"risk.max_severity": "none"}))


def test_a_missing_rating_is_neither_better_nor_worse() -> None:
    e = parse('counterparty.credit_rating <= "BB"')
    assert e.evaluate(ctx(**{"counterparty.credit_rating": None})) is False
    assert parse("counterparty.credit_rating == null").evaluate(
        ctx(**{"counterparty.credit_rating": None})
    )


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("amount_bse > 1", "unknown field 'amount_bse'", 1),
        ("amount = 5", "use == for equality", 8),
        ("amount >", "found the end", 9),
        ("(amount > 1", "expected ')'", 12),
        ("amount", "not a condition", 1),
        ('amount > "big"', "cannot compare a number with a string", 8),
        ('risk.max_severity >= "severe"', "'severe' is not a value of risk.max_severity", 22),
        ('direction == "sel"', "'sel' is not a value of direction", 14),
        ('direction > "buy"', "needs numbers, dates, severities or ratings", 11),
        ("risk.categories == 1", "lists cannot be compared", 17),
        ('"x" in amount', "must be a list", 5),
        ('start_date > "next week"', "not a date", 14),
        ("amount > 1 amount", "unexpected 'amount'", 12),
        ("__import__('os')", "unexpected '('", 11),
        ("amount > 1; x", "unexpected character ';'", 11),
        ("", "empty expression", 1),
        ("1 == 1", "compares two constants", 3),
        ("amount > null", "null can only be compared with == or !=", 8),
        ('"abc', "unterminated string", 1),
    ],
)
def test_bad_conditions_are_refused_with_the_column(text: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert message in info.value.message
    assert info.value.column == column


def test_the_vocabulary_is_exported_for_docs() -> None:
    exported = {f["field"]: f for f in export_vocabulary()}
    assert set(exported) == set(VOCABULARY)
    assert exported["risk.max_severity"]["values"] == ["none", "low", "medium", "high", "critical"]
    for name in (
        "amount",
        "amount_base",
        "direction",
        "currency",
        "counterparty.credit_rating",
        "counterparty.country",
        "prepayment_percent",
        "risk.categories",
    ):
        assert name in exported


def test_a_contract_gives_a_value_for_every_vocabulary_field() -> None:
    contract = load_contract_file(EXAMPLES / "SC-2026-0042.yaml")
    values = context_for(
        contract, amount_base=Decimal("2400000"), max_severity="high", categories=["guarantees"]
    )
    assert set(values) == set(VOCABULARY)
    assert values["prepayment_percent"] == Decimal(30)
    assert values["payment_terms.net_days"] == 60
    assert values["guarantees.kinds"] == ["bank_guarantee"]
    assert parse('risk.max_severity >= "high" and "guarantees" in risk.categories').evaluate(values)


def test_the_user_guide_lists_every_field() -> None:
    from engine.settings import PROJECT_ROOT

    guide = (PROJECT_ROOT / "docs" / "workflows.md").read_text()
    missing = [name for name in VOCABULARY if f"| `{name}` |" not in guide]
    assert not missing, f"docs/workflows.md does not list: {missing}"
