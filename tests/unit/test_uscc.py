"""The Unified Social Credit Code check (GB 32100-2015), held against python-stdnum."""

from __future__ import annotations

import random

import pytest
from stdnum.cn import uscc as stdnum_uscc

from engine.domain.contract import Counterparty
from engine.domain.counterparty import USCC_ALPHABET, uscc_check_character, uscc_problem

VALID = ["91350100M000100Y43", "91110000600037341L", "91440300708461136T"]


@pytest.mark.parametrize("code", VALID)
def test_known_codes_pass(code: str) -> None:
    assert uscc_problem(code) is None
    assert stdnum_uscc.is_valid(code)


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y44", "check character is 4"),
        ("91350100M000100Y4", "must be 18 characters, not 17"),
        ("9135010AM000100Y43", "positions 3-8: digits"),
        ("91350100M000100I43", "may use only digits"),
        ("91350100m000100y43", "may use only digits"),
    ],
)
def test_wrong_codes_say_what_is_wrong(code: str, why: str) -> None:
    problem = uscc_problem(code)
    assert problem is not None and why in problem


def test_check_character_agrees_with_python_stdnum_on_random_codes() -> None:
    rng = random.Random(32100)
    for _ in range(2000):
        body = (
            rng.choice("19")
            + rng.choice("123459")
            + "".join(rng.choice("0123456789") for _ in range(6))
            + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        )
        assert uscc_check_character(body) == stdnum_uscc.calc_check_digit(body)
        wrong = next(c for c in USCC_ALPHABET if c != uscc_check_character(body))
        assert uscc_problem(body + wrong) is not None
        assert not stdnum_uscc.is_valid(body + wrong)


def test_a_contract_file_code_is_checked_and_written_in_capitals() -> None:
    assert Counterparty(name="x", code=" 91350100m000100y43 ").code == "91350100M000100Y43"
    with pytest.raises(ValueError, match="check character"):
        Counterparty(name="x", code="91350100M000100Y44")
