"""Hostile YAML (alias bombs, self-referring aliases, deep nesting) is refused fast by
every reader: contract files, workflow files, rule files, risk.yaml and .docx templates."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.definitions.contracts import load_contract_text
from engine.definitions.riskconfig import load_risk_config
from engine.definitions.rules import load_rule_texts
from engine.definitions.workflows import load_workflow_text
from engine.documents.templates import load_template
from engine.errors import InvalidInput

# Nine levels of nine aliases: 2 KB of text that a copying loader expands to 9^9 values.
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
LOOP = "a: &a [*a]\n"
DEEP_FLOW = "x: " + "[" * 10_000 + "]" * 10_000 + "\n"
DEEP_MAP = "x: " + "{a: " * 3_000 + "1" + "}" * 3_000 + "\n"
DEEP_BLOCK = "".join(" " * i + "- \n" for i in range(0, 400, 2))


def _contract(text: str, tmp: Path) -> object:
    return load_contract_text(text, "draft.yaml", {"CNY"})


def _workflow(text: str, tmp: Path) -> object:
    return load_workflow_text(text, "config/workflows/w.yaml")


def _rules(text: str, tmp: Path) -> object:
    return load_rule_texts({"rules/r.yaml": text}, set())


def _risk(text: str, tmp: Path) -> object:
    path = tmp / "risk.yaml"
    path.write_text(text)
    return load_risk_config(path)


def _template(text: str, tmp: Path) -> object:
    (tmp / "contracts").mkdir(exist_ok=True)
    (tmp / "contracts" / "bomb.yaml").write_text(text)
    return load_template(tmp, "bomb")


READERS: dict[str, Callable[[str, Path], object]] = {
    "contract": _contract,
    "workflow": _workflow,
    "rules": _rules,
    "risk.yaml": _risk,
    "docx template": _template,
}
HOSTILE = {
    "alias bomb": (BOMB, "alias"),
    "self-referring alias": (LOOP, "alias"),
    "10,000 nested brackets": (DEEP_FLOW, "nested too deeply (limit 50 levels)"),
    "3,000 nested mappings": (DEEP_MAP, "nested too deeply (limit 50 levels)"),
    "200 nested block lists": (DEEP_BLOCK, "nested too deeply (limit 50 levels)"),
}


@pytest.mark.parametrize("reader", READERS, ids=str)
@pytest.mark.parametrize("case", HOSTILE, ids=str)
def test_hostile_yaml_is_refused_in_well_under_a_second_with_one_line(
    reader: str, case: str, tmp_path: Path
) -> None:
    text, expected = HOSTILE[case]
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as info:
        READERS[reader](text, tmp_path)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"{reader}: {case} took {elapsed:.2f} s"
    assert len(info.value.lines()) == 1, info.value.lines()
    assert expected in info.value.lines()[0]


def test_contract_files_refuse_any_alias_and_name_its_line() -> None:
    text = "title: &t Pumps\ndirection: sell\ncounterparty: {name: *t}\n"
    with pytest.raises(InvalidInput) as info:
        load_contract_text(text, "draft.yaml", {"CNY"})
    assert info.value.lines() == [
        "draft.yaml:3: YAML aliases (*t) are not allowed in contract files; write the value out"
    ]


def test_definition_files_may_still_share_a_small_block_through_an_alias() -> None:
    from engine.definitions.yamlio import load_yaml_text

    data, _ = load_yaml_text("base: &b {days: 3}\nx: *b\ny: {<<: *b, role: legal}\n", "w.yaml")
    assert data == {"base": {"days": 3}, "x": {"days": 3}, "y": {"days": 3, "role": "legal"}}


def test_yaml_past_the_size_limit_is_refused_before_parsing() -> None:
    from engine import yamlsafe

    text = "a: " + "x" * (yamlsafe.MAX_CHARS + 1)
    with pytest.raises(InvalidInput, match="over the limit of"):
        load_workflow_text(text, "w.yaml")


def test_deeply_nested_json_contract_is_refused_not_a_recursion_error() -> None:
    text = '{"title": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(InvalidInput) as info:
        load_contract_text(text, "draft.json", {"CNY"})
    assert info.value.lines() == ["draft.json: JSON nested too deeply (limit 50 levels)"]
