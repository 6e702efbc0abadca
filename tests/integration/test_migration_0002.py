"""Migration 0002 lists stored ids and one-line fields the contract format now refuses,
as a warning, and never fails the upgrade (issue 16.4)."""

from __future__ import annotations

import logging

import pytest
from alembic import command
from sqlalchemy import text

from engine.services import lifecycle
from engine.services.rules import load_shipped_rules
from engine.services.runtime import Runtime
from engine.services.users import add_user
from engine.services.workflows import load_shipped_workflows
from engine.store import migrate
from tests.support import EXAMPLES


def test_upgrade_warns_about_stored_offenders_and_still_succeeds(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    load_shipped_workflows(rt)
    load_shipped_rules(rt)
    add_user(rt, "alice", ["contract_admin"])
    lifecycle.submit(rt, EXAMPLES / "SC-2026-0042.yaml", "alice")
    with rt.db.engine.begin() as conn:  # as an older version could have stored them
        conn.execute(
            text("UPDATE contracts SET code = 'SC/..//x', title = :t"), {"t": "Pumps\r\nBcc: x"}
        )
        conn.execute(text("UPDATE obligations SET oid = 'OB.1' WHERE oid = 'OB-1'"))
    cfg = migrate._config()
    with rt.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with (
        caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"),
        rt.db.engine.begin() as conn,
    ):
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")  # later revisions need keys a test runtime lacks
    assert migrate.current_revision(rt.db) == "0002"
    [warning] = [r.getMessage() for r in caplog.records if "0002" in r.getMessage()]
    assert "3 stored value(s)" in warning
    assert "contract 'SC/..//x': id does not match letters, digits, -, _, #" in warning
    assert "contract 'SC/..//x': title contains a control character" in warning
    assert "contract 'SC/..//x': obligation id 'OB.1' does not match" in warning
