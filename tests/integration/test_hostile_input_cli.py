"""Hostile input on the command line, as an attacker would type it: exit 2 with one line
per problem, never a traceback, never a hang."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.cli_support import run_cli
from tests.unit.definitions.test_hostile_yaml import BOMB

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_contracts_validate_refuses_an_alias_bomb_fast_with_exit_2(
    db_url: str, tmp_path: Path
) -> None:
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(BOMB)
    started = time.perf_counter()
    res = run_cli("contracts", "validate", str(bomb), db_url=db_url)
    elapsed = time.perf_counter() - started
    assert res.code == 2, res
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: {bomb}:2: YAML aliases (*a) are not allowed in contract files; write the value out"
    ]
    assert elapsed < 15  # interpreter start included; the old code ran past 60 s


def test_workflows_validate_refuses_10000_parentheses_with_file_line_and_exit_2(
    db_url: str, tmp_path: Path
) -> None:
    text = (CONFIG / "workflows" / "fast_track.yaml").read_text()
    deep = "(" * 10_000 + "amount > 1" + ")" * 10_000
    path = tmp_path / "deep.yaml"
    path.write_text(
        text.replace('when: risk.max_severity >= "medium" or amount_base > 500000', f"when: {deep}")
    )
    res = run_cli("workflows", "validate", str(path), db_url=db_url)
    assert res.code == 2, res
    assert "Traceback" not in res.stderr and "RecursionError" not in res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}:17: ")
    assert "expression nested too deeply (limit 32)" in line
