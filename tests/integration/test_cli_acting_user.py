"""The command line as a user types it: `--as` on every command with the web app's
visibility rules (SPEC 4a, issue 16 item 5), tables safe from terminal injection (issue
18 item 6) and amounts formatted as the web shows them (issue 16 item 7)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from sqlalchemy import text

from engine.cli.app import app
from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.settings import Settings
from tests.integration.cli_support import Result, run_cli
from tests.integration.workflow.support import contract_file, prepare

HOSTILE_TITLE = "Supply [bold red]URGENT[/bold red] \x1b]0;pwned\x07\x1b[2J\x1b[31mred\u202e"


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[Any]:
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):  # a group (Typer ships its own click classes)
            yield from _commands(command, (*prefix, name))
        else:
            yield pytest.param(command, id=" ".join((*prefix, name)))


ROOT = typer.main.get_command(app)
EVERY_COMMAND = list(_commands(ROOT))


def test_the_walk_finds_every_command_group() -> None:
    names = {p.id for p in EVERY_COMMAND}
    assert {"show", "tasks", "act", "audit verify", "alerts run", "rules check", "init"} <= names
    assert len(names) >= 35


@pytest.mark.parametrize("command", EVERY_COMMAND)
def test_every_command_accepts_as_user(command: Any) -> None:
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert "--as" in options, f"{command.name} does not accept --as"
    ctx = command.make_context(command.name, ["--as", "someone", "--help"], resilient_parsing=True)
    assert ctx.params.get("as_user") == "someone"


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A submitted contract (legal review) whose title is hostile; env for the CLI."""
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    settings = Settings(database_url=db_url, data_dir=tmp_path / "data")
    from engine.services.users import seed_roles
    from engine.store import migrate

    rt = Runtime(settings)
    try:
        migrate.upgrade(rt.db)
        with rt.db.transaction() as session:
            seed_roles(session)
        prepare(rt)
        view = lifecycle.submit(rt, contract_file(tmp_path, amount=3680000), "alice")
        # As an old row (or another interface) could have stored it.
        with rt.db.engine.begin() as conn:
            conn.execute(text("UPDATE contracts SET title = :t"), {"t": HOSTILE_TITLE})
    finally:
        rt.close()
    env = {"CONTRACTFLOW_DATA_DIR": str(tmp_path / "data"), "CONTRACTFLOW_RISK_BACKEND": "python"}
    yield view.id, {"db_url": db_url, **env}


def cf(env: dict[str, str], *args: str) -> Result:
    return run_cli(*args, **env)


@pytest.mark.slow
def test_read_commands_apply_the_web_visibility_rules(stored: tuple[str, dict[str, str]]) -> None:
    code, env = stored
    assert cf(env, "show", code, "--as", "lena").code == 0  # a legal task on it
    hidden = cf(env, "show", code, "--as", "paul")  # procurement: nothing to do with it
    assert hidden.code == 1
    assert hidden.stderr.strip() == f"error: contract {code!r}: not found or not visible to paul"
    missing = cf(env, "show", "SC-2099-0001", "--as", "lena")
    assert missing.code == 1 and "not found or not visible" in missing.stderr
    unknown = cf(env, "show", code, "--as", "nobody")
    assert unknown.code == 2 and "--as: user 'nobody' does not exist" in unknown.stderr
    assert cf(env, "audit", "verify", code, "--as", "paul").code == 1
    assert cf(env, "audit", "verify", "--as", "lena").code == 1  # the whole trail: not hers
    assert cf(env, "audit", "verify", "--as", "rita").code == 0  # risk officers see all
    assert cf(env, "tasks", "--as", "nobody").code == 2
    assert cf(env, "tasks", "--all", "--as", "lena").code == 1
    assert cf(env, "alerts", "list", "--as", "lena").code == 1
    assert cf(env, "alerts", "list", "--as", "maria").code == 0
    # Commands that need no user accept and ignore it, even a name that does not exist.
    assert cf(env, "workflows", "fields", "--as", "nobody").code == 0
    for output in (hidden.stderr, unknown.stderr):
        assert "Traceback" not in output


@pytest.mark.slow
def test_tables_print_titles_as_text_without_markup_or_escape_sequences(
    stored: tuple[str, dict[str, str]],
) -> None:
    code, env = stored
    for args in (("show", code), ("tasks", "--as", "lena")):
        out = cf(env, *args)
        assert out.code == 0, out.stderr
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout
        # The markup is shown as the characters typed, not interpreted (nor swallowed).
        assert "[bold red]URGENT[/bold red]" in out.stdout
    shown = cf(env, "show", code, "--format", "json")
    assert shown.json["title"] == HOSTILE_TITLE  # JSON gives the data as stored


@pytest.mark.slow
def test_tables_format_amounts_and_json_keeps_numbers(
    stored: tuple[str, dict[str, str]],
) -> None:
    code, env = stored
    out = cf(env, "show", code)
    assert "3,680,000.00 CNY" in out.stdout and "3680000 " not in out.stdout
    as_json = cf(env, "show", code, "--format", "json").json
    assert as_json["amount"] == 3680000
