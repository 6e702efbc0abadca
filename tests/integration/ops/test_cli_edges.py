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
