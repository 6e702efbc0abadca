"""The foundation through the real command line, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from engine.store import models as m
from engine.store.db import Database
from tests.integration.cli_support import run_cli
from tests.support import EXAMPLES


def _count(db_url: str, model: type[m.Base]) -> int:
    db = Database(db_url)
    with db.sessions() as s:
        n = s.scalar(select(func.count()).select_from(model))
    db.dispose()
    return int(n or 0)


def test_init_is_safe_to_run_twice(db_url: str) -> None:
    first = run_cli("init", "--format", "json", db_url=db_url)
    second = run_cli("init", "--format", "json", db_url=db_url)
    assert first.code == 0, first.stderr
    assert second.code == 0, second.stderr
    assert second.json["database"].split("://")[0] in ("sqlite", "postgresql+psycopg")
    assert _count(db_url, m.Role) >= 10


def test_users_add_then_update_then_list(db_url: str) -> None:
    added = run_cli(
        "users",
        "add",
        "alice",
        "--role",
        "contract_admin",
        "--email",
        "alice@example.com",
        "--format",
        "json",
        db_url=db_url,
    )
    assert added.code == 0, added.stderr
    assert added.json == {
        "username": "alice",
        "display_name": None,
        "email": "alice@example.com",
        "roles": ["contract_admin"],
        "active": True,
        "notify": "immediate",
        "team": None,
    }
    updated = run_cli(
        "users",
        "add",
        "alice",
        "--role",
        "legal",
        "--role",
        "contract_admin",
        "--format",
        "json",
        db_url=db_url,
    )
    assert updated.json["roles"] == ["contract_admin", "legal"]
    listed = run_cli("users", "list", "--format", "json", db_url=db_url)
    assert [u["username"] for u in listed.json] == ["alice"]


def test_password_from_stdin_is_stored_hashed(db_url: str) -> None:
    res = run_cli(
        "users",
        "add",
        "lena",
        "--role",
        "legal",
        "--password-stdin",
        db_url=db_url,
        stdin="correct horse battery\n",
    )
    assert res.code == 0, res.stderr
    db = Database(db_url)
    with db.sessions() as s:
        stored = s.scalar(select(m.User.password_hash).where(m.User.username == "lena"))
    db.dispose()
    assert stored is not None and stored.startswith("$argon2")
    assert "correct horse" not in stored


def test_unknown_role_is_refused_and_nothing_stored(db_url: str) -> None:
    res = run_cli("users", "add", "bob", "--role", "wizard", db_url=db_url)
    assert res.code == 2
    assert res.stderr.startswith("error: --role: 'wizard' is not a role")
    assert "Traceback" not in res.stderr
    assert _count(db_url, m.User) == 0


def test_validate_reports_every_problem_and_stores_nothing(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "draft.yaml"
    bad.write_text(
        "title: Pumps\ndirection: lend\ncounterparty: {name: X}\ncurrency: CNY\namount: -1\n"
        "start_date: 2027-01-01\nend_date: 2026-01-01\n"
    )
    res = run_cli("contracts", "validate", str(bad), "--format", "json", db_url=db_url)
    assert res.code == 2
    assert res.json["valid"] is False
    assert [e.split(": ")[1] for e in res.json["errors"]] == ["direction", "amount", "end_date"]
    assert _count(db_url, m.Contract) == 0 and _count(db_url, m.ContractRevision) == 0


def test_validate_accepts_every_example(db_url: str) -> None:
    files = sorted(str(p) for p in EXAMPLES.glob("*.*"))
    res = run_cli("contracts", "validate", *files, "--format", "json", db_url=db_url)
    assert res.code == 0, res.stdout + res.stderr
    assert (res.json["valid"], res.json["errors"]) == (True, [])
    # terms that do not agree are named warnings, not errors (docs/contract-format.md)
    assert all(
        w.endswith(("[payments_do_not_add_up]", "[installments_do_not_match]"))
        for w in res.json["warnings"]
    )


def test_missing_file_is_one_line(db_url: str, tmp_path: Path) -> None:
    res = run_cli("contracts", "validate", str(tmp_path / "nope.yaml"), db_url=db_url)
    assert res.code == 2
    assert res.stderr.strip() == f"error: {tmp_path / 'nope.yaml'}: no such file"


def test_config_show_masks_secrets(db_url: str) -> None:
    res = run_cli(
        "config",
        "show",
        "--format",
        "json",
        db_url=db_url,
        CONTRACTFLOW_SMTP_PASSWORD="hunter2-secret",
    )
    assert res.code == 0, res.stderr
    assert res.json["smtp_password"] == "********"
    assert "hunter2" not in res.stdout
    assert res.json["base_currency"] == "CNY"
    assert res.json["fx_rates"]["USD"] == "7.1"


def test_bad_database_url_is_one_line(tmp_path: Path) -> None:
    res = run_cli("init", db_url="nonsense://")
    assert res.code == 2
    assert res.stderr.count("\n") == 1 and "database" in res.stderr
