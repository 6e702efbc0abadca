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


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "SC-2026-0042.yaml"


def test_rules_check_evaluates_tiny_and_huge_schema_valid_numbers_on_durable_rules(
    db_url: str, tmp_path: Path
) -> None:
    assert run_cli("init", db_url=db_url).code == 0
    text = EXAMPLE.read_text()
    cases = {
        "penalty.yaml": text.replace(
            "late_penalty_percent_per_day: 0.05", "late_penalty_percent_per_day: 0.00001"
        ),
        "amount.yaml": text.replace("amount: 2400000.00", "amount: 9999999999999999.99"),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_text(content)
        res = run_cli("rules", "check", str(path), "-f", "json", db_url=db_url)
        assert res.code == 0, (name, res.stderr[-500:])
        assert "Traceback" not in res.stderr
    res = run_cli("rules", "check", str(EXAMPLE), "--param", "net_days_medium=1e-7", db_url=db_url)
    assert res.code == 0, res.stderr[-500:]


def test_out_of_range_params_and_as_of_are_one_line_and_exit_2(db_url: str) -> None:
    assert run_cli("init", db_url=db_url).code == 0
    cases = {
        ("--param", "net_days_medium=1e308"): "--param net_days_medium: 1E+308 is out of range",
        ("--param", "net_days_medium=1e20"): "--param net_days_medium: 1E+20 is out of range",
        ("--param", "due_soon_days=1e15"): "--param due_soon_days: 1E+15 is not a whole number",
        ("--as-of", "9999-12-31"): "as_of: 9999-12-31 is out of range (1900-01-01 to 2999-12-31)",
    }
    for args, expected in cases.items():
        res = run_cli("rules", "check", str(EXAMPLE), *args, db_url=db_url)
        assert res.code == 2, (args, res.stderr[-500:])
        [line] = res.stderr.strip().splitlines()
        assert line.startswith(f"error: {expected}"), line


def test_ids_past_what_the_database_stores_are_one_line_and_exit_2(db_url: str) -> None:
    assert run_cli("init", db_url=db_url).code == 0
    assert run_cli("users", "add", "root", "--role", "admin", db_url=db_url).code == 0
    huge = str(2**64)
    for args, what in [
        (("act", huge, "approve", "--as", "root"), "task"),
        (("reassign", huge, "root", "--as", "root"), "task"),
        (("alerts", "retry", huge), "alert"),
    ]:
        res = run_cli(*args, db_url=db_url)
        assert res.code == 2, (args, res.stderr[-300:])
        assert res.stderr.strip().splitlines() == [
            f"error: {what} {huge}: not an id (ids are whole numbers from 1 to 2147483647)"
        ]
