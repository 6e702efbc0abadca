"""`contractflow scorecard` as typed: JSON rows, CSV, --by team, --as and bad input."""

from __future__ import annotations

import csv
import io

from engine.services.runtime import Runtime
from tests.integration.cli_support import run_cli


def test_scorecard_json_rows_for_a_past_period(book: Runtime, db_url: str) -> None:
    # November: both contracts of alice and anna's were signed then; nothing was due.
    r = run_cli(
        "scorecard", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json", db_url=db_url
    )
    assert r.code == 0, r.stderr
    rows = {row["owner"]: row for row in r.json}
    assert rows["alice"]["median_cycle_days"] == 3.5
    assert rows["alice"]["contracts_active"] == 0  # their terms start on 1 December
    assert rows["alice"]["on_time_rate"] is None
    assert rows["anna"]["median_cycle_days"] == 4.0
    assert list(rows["alice"]) == [
        "owner",
        "contracts_active",
        "obligations_due",
        "fulfilled_on_time",
        "fulfilled_late",
        "overdue_open",
        "on_time_rate",
        "overdue_amount",
        "median_cycle_days",
        "tasks_escalated",
        "high_flags",
    ]


def test_scorecard_by_team_as_csv_and_as_a_sales_person(book: Runtime, db_url: str) -> None:
    r = run_cli(
        "scorecard",
        "--by",
        "team",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--format",
        "csv",
        db_url=db_url,
    )
    assert r.code == 0, r.stderr
    table = list(csv.DictReader(io.StringIO(r.stdout.lstrip("\ufeff"))))
    assert {row["Team"] for row in table} == {"south", "north"}
    r = run_cli(
        "scorecard",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--format",
        "json",
        "--as",
        "anna",
        db_url=db_url,
    )
    assert r.code == 0, r.stderr
    assert [row["owner"] for row in r.json] == ["anna"]
    r = run_cli("scorecard", "--to", "2026-11-30", db_url=db_url, COLUMNS="250")
    assert r.code == 0, r.stderr
    # without --from: the 90 days up to and including --to
    assert "Scorecard by owner, 2026-09-02 to 2026-11-30" in r.stdout
    assert "alice" in r.stdout


def test_scorecard_bad_input_is_one_line_and_exit_2(book: Runtime, db_url: str) -> None:
    for args, word in [
        (["--by", "region"], "--by"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "--from"),
        (["--from", "yesterday"], "--from"),
        (["--as", "nobody"], "nobody"),
    ]:
        r = run_cli("scorecard", *args, db_url=db_url)
        assert r.code == 2, (args, r.stdout, r.stderr)
        assert word in r.stderr and "Traceback" not in r.stderr


def test_users_add_and_set_team(book: Runtime, db_url: str) -> None:
    r = run_cli(
        "users",
        "add",
        "zoe",
        "--role",
        "contract_admin",
        "--team",
        "华东销售",
        "--format",
        "json",
        db_url=db_url,
    )
    assert r.code == 0, r.stderr
    assert r.json["team"] == "华东销售"
    r = run_cli("users", "set", "zoe", "--team", "west", "--format", "json", db_url=db_url)
    assert r.json["team"] == "west"
    r = run_cli("users", "set", "zoe", "--team", "", "--format", "json", db_url=db_url)
    assert r.json["team"] is None
    r = run_cli("admin", "log", "--action", "team_changed", "--format", "json", db_url=db_url)
    zoe = [e["details"]["to"] for e in r.json if e["subject"] == "zoe"]
    assert zoe == [None, "west"]
