"""Broken rule files are refused with `file:line: message`, every problem at once.

Each file in tests/data/rules_bad/ says what it must produce in `# expect:` lines
(`LINE: text the message contains`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.definitions.rules import load_rule_texts
from engine.errors import InvalidDefinition
from tests.support import DATA

BAD = sorted((DATA / "rules_bad").glob("*.yaml"))
PARAMS = {"net_days_medium", "net_days_high", "exposure_limit", "overdue_high_days"}


def expectations(path: Path) -> list[tuple[int, str]]:
    return [
        (int(m.group(1)), m.group(2).strip())
        for m in re.finditer(r"^# expect: (\d+): (.+)$", path.read_text(), re.M)
    ]


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_rule_file_is_refused_with_file_and_line(path: Path) -> None:
    with pytest.raises(InvalidDefinition) as err:
        load_rule_texts({str(path): path.read_text()}, PARAMS)
    lines = err.value.lines()
    for line, text in expectations(path):
        assert any(msg.startswith(f"{path}:{line}: ") and text in msg for msg in lines), (
            f"no '{path}:{line}: ...{text}...' in {lines}"
        )
    assert len(lines) == len(expectations(path)), lines


def test_duplicate_rule_id_across_files_names_both_places() -> None:
    text = """rules:
  - id: a.b
    category: liability
    description: d
    when: {field: liability_cap_percent, present: false}
    severity: high
    message: m
"""
    with pytest.raises(InvalidDefinition) as err:
        load_rule_texts({"one.yaml": text, "two.yaml": text}, PARAMS)
    assert err.value.lines() == [
        "two.yaml:2: duplicate rule id 'a.b' (first defined at one.yaml:2)"
    ]


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(InvalidDefinition) as err:
        load_rule_texts({"x.yaml": "rules:\n  - id: [unclosed\n"}, PARAMS)
    assert err.value.lines()[0].startswith("x.yaml:")
