"""Which rule set is in force when the database cannot say: only a database without our
schema falls back to rules/; a database that answers wrongly is an error, not a silent switch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from engine.services.rules import active_rules, folder_rules
from engine.services.runtime import Runtime
from engine.settings import Settings


def _runtime(path: Path) -> Runtime:
    return Runtime(Settings(database_url=f"sqlite:///{path}", risk_backend="python"))


def test_a_database_without_the_schema_uses_the_rule_files(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE unrelated (a INTEGER)").connection.close()
    rt = _runtime(path)
    try:
        assert [r.id for r in active_rules(rt).rules] == [r.id for r in folder_rules(rt).rules]
    finally:
        rt.close()


def test_a_database_that_cannot_be_read_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    path = tmp_path / "outdated.db"
    sqlite3.connect(path).execute("CREATE TABLE rule_sets (id INTEGER)").connection.close()
    rt = _runtime(path)
    try:
        with pytest.raises(OperationalError, match="no such column"):
            active_rules(rt)
    finally:
        rt.close()
