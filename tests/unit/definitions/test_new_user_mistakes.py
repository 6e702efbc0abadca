"""What a new user tripped over (issue 16.7): RMB, thousands separators, every problem
reported in one pass."""

from __future__ import annotations

import pytest

from engine.definitions.contracts import load_contract_text
from engine.errors import InvalidContract
from tests.support import EXAMPLES

TEXT = (EXAMPLES / "SC-2026-0042.yaml").read_text()


def _problems(text: str) -> list[str]:
    with pytest.raises(InvalidContract) as info:
        load_contract_text(text, "d.yaml", {"CNY", "USD"})
    return info.value.lines()


def test_rmb_is_accepted_as_an_alias_of_cny_and_stored_as_cny() -> None:
    contract = load_contract_text(TEXT.replace("currency: CNY", "currency: RMB"), "d.yaml", {"CNY"})
    assert contract.currency == "CNY"


def test_an_amount_with_thousands_separators_gets_a_hint() -> None:
    problems = _problems(TEXT.replace("amount: 2400000.00", "amount: 1,200,000"))
    assert problems == [
        "d.yaml: amount: '1,200,000' is not a number: write it without thousands "
        "separators (1200000) (line 10)"
    ]


def test_a_bad_date_does_not_hide_the_other_problems() -> None:
    text = (
        TEXT.replace("due: 2026-12-05\n    amount: 720000", "due: 2026-13-05\n    amount: 720000")
        .replace("end_date: 2027-11-30", "end_date: 2026-11-30")
        .replace("currency: CNY", "currency: CHF")
        .replace("amount: 2400000.00", "amount: 2,400,000")
    )
    problems = _problems(text)
    assert sorted(p.split(":")[1].strip() for p in problems) == [
        "amount",
        "currency",
        "end_date",
        "obligations[0].due",
    ]
