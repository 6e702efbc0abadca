"""Ids follow one documented pattern and one-line fields refuse control characters
(issue 16.4): `SC/..//x` was accepted and the contract was then unreachable."""

from __future__ import annotations

import pytest

from engine.definitions.contracts import load_contract_text
from engine.errors import InvalidContract
from tests.support import EXAMPLES

TEXT = (EXAMPLES / "SC-2026-0042.yaml").read_text()


def _problems(text: str) -> list[str]:
    with pytest.raises(InvalidContract) as info:
        load_contract_text(text, "d.yaml", {"CNY"})
    return info.value.lines()


@pytest.mark.parametrize("bad", ["SC/..//x", "SC.2026", "SC 1", "-SC", "SC%2F1", "SC\u00e91"])
def test_contract_ids_outside_the_pattern_are_refused_naming_the_rule(bad: str) -> None:
    [line] = _problems(TEXT.replace("id: SC-2026-0042", f"id: '{bad}'"))
    assert line.startswith(f"d.yaml: id: {bad!r} is not an id: use letters, digits, -, _ and #")


@pytest.mark.parametrize("good", ["SC-2026-0042", "sc_1", "OB-1#3", "X"])
def test_ids_of_letters_digits_dash_underscore_and_hash_are_accepted(good: str) -> None:
    text = TEXT.replace("id: SC-2026-0042", f"id: '{good}'").replace(
        "id: OB-1\n", f"id: '{good}'\n"
    )
    contract = load_contract_text(text, "d.yaml", {"CNY"})
    assert contract.id == good and contract.obligations[0].id == good


def test_obligation_and_guarantee_ids_follow_the_same_pattern() -> None:
    text = TEXT.replace("id: OB-1\n", "id: OB/1\n").replace("id: G-1\n", "id: G.1\n")
    problems = _problems(text)
    assert any(p.startswith("d.yaml: obligations[0].id: 'OB/1' is not an id") for p in problems)
    assert any(p.startswith("d.yaml: guarantees[0].id: 'G.1' is not an id") for p in problems)


@pytest.mark.parametrize(
    ("field", "old", "char"),
    [
        ("title", "title: Supply of 40 centrifugal pumps", "\\r\\n"),
        ("title", "title: Supply of 40 centrifugal pumps", "\\0"),
        ("title", "title: Supply of 40 centrifugal pumps", "\\e[2J"),
        ("counterparty.name", "  name: Huadong Machinery Co., Ltd.", "\\n"),
        ("guarantees[0].issuer", "    issuer: Bank of Ningbo", "\\t"),
        ("governing_law", "governing_law: CN", "\\x07"),
    ],
)
def test_one_line_fields_refuse_control_characters_with_a_clear_message(
    field: str, old: str, char: str
) -> None:
    key, value = old.split(": ", 1)
    text = TEXT.replace(old, f'{key}: "{value}{char}x"')
    [line] = _problems(text)
    assert line.startswith(f"d.yaml: {field}: control character U+")
    assert "is not allowed in a one-line field (no line breaks, tabs, NUL or escape codes)" in line


def test_descriptions_may_break_lines_but_not_carry_nul() -> None:
    ok = TEXT.replace(
        "description: Advance payment of 30%", 'description: "Advance payment\\nof 30%"'
    )
    assert load_contract_text(ok, "d.yaml", {"CNY"}).obligations[0].description.count("\n") == 1
    bad = TEXT.replace("description: Advance payment of 30%", 'description: "Advance\\0"')
    [line] = _problems(bad)
    assert line.startswith("d.yaml: obligations[0].description: control character U+0000")
