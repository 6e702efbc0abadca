"""Contract files: every shipped example loads; every SPEC mistake is named, one per line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.definitions.contracts import load_contract_file, load_contract_text
from engine.errors import InvalidContract
from tests.support import EXAMPLES

CURRENCIES = {"CNY", "USD", "EUR"}
GOOD = """\
id: SC-1
title: Pumps
direction: sell
counterparty: {name: Huadong Machinery}
currency: CNY
amount: 2400000.00
start_date: 2026-12-01
end_date: 2027-11-30
payment_terms:
  late_penalty_percent_per_day: 0.05
  installments:
    - {percent: 30, due: 2026-12-05}
    - {percent: 70, due: 2027-02-28}
guarantees:
  - {kind: bank_guarantee, amount: 240000}
  - {kind: collateral, amount: 1000}
obligations:
  - {id: OB-1, party: counterparty, kind: payment, due: 2026-12-05, amount: 720000}
"""


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.*")), ids=lambda p: p.name)
def test_every_shipped_example_is_valid(path: Path) -> None:
    contract = load_contract_file(path, {"CNY", "USD", "EUR", "HKD", "JPY", "GBP"})
    assert contract.id == path.stem


def test_money_is_decimal_and_exact() -> None:
    contract = load_contract_text(GOOD, "draft.yaml", CURRENCIES)
    assert contract.amount == Decimal("2400000.00")
    assert contract.payment_terms.late_penalty_percent_per_day == Decimal("0.05")
    assert isinstance(contract.amount, Decimal)


def test_guarantee_ids_default_to_their_position() -> None:
    contract = load_contract_text(GOOD, "draft.yaml", CURRENCIES)
    assert [g.id for g in contract.guarantees] == ["G-1", "G-2"]


def test_defaults_follow_the_spec() -> None:
    text = GOOD.replace("  late_penalty_percent_per_day: 0.05\n", "")
    contract = load_contract_text(text, "draft.yaml", CURRENCIES)
    terms = contract.payment_terms
    assert (terms.prepayment_percent, terms.net_days, terms.late_penalty_percent_per_day) == (
        0,
        30,
        None,
    )
    assert contract.auto_renewal is False
    assert contract.liability_cap_percent is None
    assert contract.obligations[0].status == "open"


def test_json_files_load_like_yaml() -> None:
    text = (
        '{"title": "T", "direction": "buy", "counterparty": {"name": "N"}, "currency": "USD",'
        ' "amount": 10.5, "start_date": "2027-01-01", "end_date": "2027-01-01"}'
    )
    contract = load_contract_text(text, "draft.json", CURRENCIES)
    assert contract.amount == Decimal("10.5")
    assert contract.id is None


def _problems(text: str, name: str = "draft.yaml") -> list[str]:
    with pytest.raises(InvalidContract) as info:
        load_contract_text(text, name, CURRENCIES)
    return info.value.lines()


BAD_CASES = [
    ("unknown_key", GOOD + "colour: red\n", "draft.yaml: colour: unknown key"),
    ("missing_title", GOOD.replace("title: Pumps\n", ""), "draft.yaml: title: required"),
    ("bad_direction", GOOD.replace("direction: sell", "direction: lend"), "direction: 'lend'"),
    (
        "amount_zero",
        GOOD.replace("amount: 2400000.00", "amount: 0"),
        "amount: input should be greater than 0",
    ),
    ("amount_text", GOOD.replace("amount: 2400000.00", "amount: lots"), "amount: "),
    (
        "float_money_digits",
        GOOD.replace("amount: 2400000.00", "amount: 1.005"),
        "amount: decimal input should have no more than 2 decimal places",
    ),
    (
        "end_before_start",
        GOOD.replace("end_date: 2027-11-30", "end_date: 2026-11-30"),
        "end_date: 2026-11-30 is before start_date 2026-12-01",
    ),
    ("bad_date", GOOD.replace("start_date: 2026-12-01", "start_date: 2026-13-01"), "start_date: "),
    (
        "unknown_currency",
        GOOD.replace("currency: CNY", "currency: CHF"),
        "currency: CHF is neither the base currency nor has an FX rate",
    ),
    (
        "not_iso_currency",
        GOOD.replace("currency: CNY", "currency: yuan"),
        "currency: 'yuan' is not an ISO 4217 code",
    ),
    (
        "installments_not_100",
        GOOD.replace("percent: 70", "percent: 60"),
        "payment_terms.installments: percents add up to 90, not 100",
    ),
    (
        "prepayment_over_100",
        GOOD.replace("payment_terms:\n", "payment_terms:\n  prepayment_percent: 120\n"),
        "payment_terms.prepayment_percent: input should be less than or equal to 100",
    ),
    (
        "fulfilled_without_date",
        GOOD.replace("amount: 720000}", "amount: 720000, status: fulfilled}"),
        "obligations[0].fulfilled_on: required when status is fulfilled",
    ),
    (
        "duplicate_obligation",
        GOOD + "  - {id: OB-1, party: us, kind: delivery, due: 2027-01-01}\n",
        "obligations: id OB-1 is used more than once",
    ),
    (
        "duplicate_guarantee",
        GOOD.replace("{kind: collateral", "{id: G-1, kind: collateral").replace(
            "{kind: bank_guarantee", "{id: G-1, kind: bank_guarantee"
        ),
        "guarantees: id G-1 is used more than once",
    ),
    (
        "bad_guarantee_kind",
        GOOD.replace("kind: collateral", "kind: handshake"),
        "guarantees[1].kind: 'handshake' is not one of",
    ),
    (
        "obligation_without_due",
        GOOD.replace(", due: 2026-12-05, amount: 720000}", ", amount: 720000}"),
        "obligations[0].due: required",
    ),
    (
        "bad_rating",
        GOOD.replace("{name: Huadong Machinery}", "{name: Huadong Machinery, credit_rating: E}"),
        "counterparty.credit_rating: 'E' is not one of",
    ),
    (
        "bad_country",
        GOOD.replace("{name: Huadong Machinery}", "{name: Huadong Machinery, country: China}"),
        "counterparty.country: 'China' is not an ISO 3166",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_each_mistake_is_named_with_its_field(text: str, expected: str) -> None:
    problems = _problems(text)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("draft.yaml: ") for p in problems)


def test_every_problem_is_reported_at_once_with_lines() -> None:
    text = (
        GOOD.replace("direction: sell", "direction: lend")
        .replace("percent: 70", "percent: 60")
        .replace("end_date: 2027-11-30", "end_date: 2026-11-30")
        + "colour: red\n"
    )
    problems = _problems(text)
    assert len(problems) == 4, problems
    assert "direction: 'lend' is not one of 'sell' or 'buy' (line 3)" in problems[0]
    assert any(p.endswith("(line 19)") and "colour" in p for p in problems)


def test_malformed_yaml_names_the_line() -> None:
    problems = _problems("title: [unclosed\ndirection: sell\n")
    assert problems == ["draft.yaml:2: malformed YAML: expected ',' or ']', but got ':'"]


def test_malformed_json_names_the_line() -> None:
    problems = _problems('{\n "title": "x",\n oops\n}', "draft.json")
    assert problems[0].startswith("draft.json:3: malformed JSON")


def test_a_list_is_not_a_contract() -> None:
    assert _problems("- a\n- b\n") == [
        "draft.yaml: (top level): expected a mapping of contract fields"
    ]
