"""The command line's edges as an operator and a script hit them (issue 19 item 7)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli_support import run_cli


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run_cli("--version", db_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert (result.code, result.stdout.strip()) == (0, f"contractflow {version('contractflow')}")


def test_shell_completion_script_is_offered(tmp_path: Path) -> None:
    result = run_cli("--show-completion", "bash", db_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert result.code == 0, result.stderr
    assert "_contractflow_completion" in result.stdout


def test_an_invalid_environment_value_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_cli(
        "config", "show", db_url=f"sqlite:///{tmp_path / 'x.db'}", CONTRACTFLOW_SMTP_PORT="abc"
    )
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "error: CONTRACTFLOW_SMTP_PORT: Input should be a valid integer, unable to parse "
        "string as an integer (got 'abc')"
    ]


def test_a_mistyped_cron_setting_stops_config_show_with_exit_2(tmp_path: Path) -> None:
    result = run_cli(
        "config",
        "show",
        db_url=f"sqlite:///{tmp_path / 'x.db'}",
        CONTRACTFLOW_ALERTS_CRON="every day",
    )
    assert result.code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: CONTRACTFLOW_ALERTS_CRON: 'every day'")


def test_errors_are_json_on_stderr_under_format_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert run_cli("init", db_url=db).code == 0
    result = run_cli("show", "NO-SUCH", "--format", "json", "--as", "admin", db_url=db)
    assert result.code != 0 and result.stdout == ""
    body = json.loads(result.stderr)
    assert set(body) == {"error", "problems", "exit_code"}
    assert body["exit_code"] == result.code and body["problems"][0] == body["error"]


def test_usage_errors_are_json_too_under_format_json(tmp_path: Path) -> None:
    result = run_cli("config", "show", "-f", "json", "--bogus", db_url=f"sqlite:///{tmp_path}/x.db")
    assert result.code == 2
    assert json.loads(result.stderr) == {
        "error": "No such option: --bogus",
        "problems": ["No such option: --bogus"],
        "exit_code": 2,
    }


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "SC-2026-0042.yaml"


def test_validate_dash_reads_the_contract_from_stdin(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    good = run_cli("contracts", "validate", "-", db_url=db, stdin=EXAMPLE.read_text())
    assert (good.code, good.stdout.strip()) == (0, "1 file(s) valid"), good.stderr
    bad = run_cli("contracts", "validate", "-", db_url=db, stdin="id: X\n")
    assert bad.code == 2
    assert bad.stderr.startswith("error: -")


def test_render_out_dash_writes_the_document_to_stdout(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "render", str(EXAMPLE), "--out", "-"],
        capture_output=True,
        timeout=120,
        env={**__import__("os").environ, "CONTRACTFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout[:2] == b"PK"  # a .docx is a zip archive
    assert b"wrote -" in proc.stderr
    assert not (tmp_path / "-").exists()


def test_dates_and_enumerated_options_are_checked_by_the_parser(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    bad_date = run_cli(
        "delegate",
        "bob",
        "--from",
        "2027-13-01",
        "--until",
        "2027-01-02",
        "--as",
        "alice",
        db_url=db,
    )
    assert bad_date.code == 2 and "Invalid value for '--from'" in bad_date.stderr
    bad_action = run_cli("act", "1", "approved", "--as", "alice", db_url=db)
    assert bad_action.code == 2
    assert "'approved' is not one of 'approve', 'reject', 'request_changes'" in bad_action.stderr
    bad_status = run_cli("alerts", "list", "--status", "bogus", db_url=db)
    assert bad_status.code == 2 and "is not one of 'pending', 'sent', 'failed'" in bad_status.stderr


def test_help_texts_say_what_each_command_takes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    for command in (("reassign",), ("obligations", "fulfil"), ("obligations", "waive")):
        text = run_cli(*command, "--help", db_url=db).stdout
        assert "reject" not in text and "request_changes" not in text, command
    assert ".docx" in run_cli("submit", "--help", db_url=db).stdout
