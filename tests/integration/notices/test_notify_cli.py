"""`users add/set --notify`, `tasks` showing hand-backs, `notify digest`, as typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.services.users import add_user
from engine.settings import Settings
from tests.integration.cli_support import run_cli
from tests.integration.workflow.support import PEOPLE, contract_file


@pytest.fixture
def cli_db(tmp_path: Path) -> str:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    rt = Runtime(Settings(database_url=db_url, data_dir=tmp_path / "data", risk_backend="python"))
    try:
        initialise(rt)
        for name, roles in PEOPLE.items():
            add_user(rt, name, list(roles), email=f"{name}@example.com")
    finally:
        rt.close()
    return db_url


@pytest.mark.slow
def test_notify_preference_is_set_shown_and_bad_values_refused(cli_db: str) -> None:
    env = {"CONTRACTFLOW_RISK_BACKEND": "python"}
    made = run_cli(
        "users",
        "add",
        "nina",
        "--role",
        "legal",
        "--notify",
        "digest",
        "--format",
        "json",
        db_url=cli_db,
        **env,
    )
    assert made.code == 0 and made.json["notify"] == "digest"
    changed = run_cli(
        "users", "set", "nina", "--notify", "off", "--format", "json", db_url=cli_db, **env
    )
    assert changed.code == 0 and changed.json["notify"] == "off"
    bad = run_cli("users", "set", "nina", "--notify", "weekly", db_url=cli_db, **env)
    assert bad.code == 2
    assert bad.stderr.strip() == ("error: --notify: 'weekly' is not one of immediate, digest, off")
    listed = run_cli("users", "list", "--format", "json", db_url=cli_db, **env)
    assert {u["username"]: u["notify"] for u in listed.json}["nina"] == "off"
    unknown = run_cli("users", "set", "nobody", "--notify", "off", db_url=cli_db, **env)
    assert unknown.code == 2 and "nobody" in unknown.stderr


@pytest.mark.slow
def test_tasks_shows_a_hand_back_in_words_and_json_kinds(cli_db: str, tmp_path: Path) -> None:
    rt = Runtime(Settings(database_url=cli_db, data_dir=tmp_path / "data", risk_backend="python"))
    try:
        view = lifecycle.submit(rt, contract_file(tmp_path, amount=500000), "alice")
        task = next(t.id for t in view.tasks if t.role == "legal")
        lifecycle.act(rt, task, "request_changes", "lena", "cap the penalty")
    finally:
        rt.close()
    env = {"CONTRACTFLOW_RISK_BACKEND": "python"}
    table = run_cli("tasks", "--as", "alice", db_url=cli_db, **env)
    assert table.code == 0
    assert (
        f"revise SC-2026-0042 (changes requested by lena: cap the penalty)  [task {task}]"
        in table.stdout
    )
    as_json = run_cli("tasks", "--as", "alice", "--format", "json", db_url=cli_db, **env)
    assert [t["kind"] for t in as_json.json] == ["revise"]
