"""Migration 0002 lists stored ids and one-line fields the contract format now refuses,
as a warning, and never fails the upgrade (issue 16.4).

The database is its own, brought to 0001 and filled as an older version could have
filled it: downgrading the suite's shared database would break every later test on it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from engine.store import migrate
from engine.store.db import Database
from tests.conftest import PG_URL
from tests.support import fresh_pg_database

NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not PG_URL:
        pytest.skip("CONTRACTFLOW_TEST_DATABASE_URL is not set")
    with fresh_pg_database(PG_URL, "cf_mig_") as created:
        yield created.render_as_string(hide_password=False)


def _upgrade_to(db: Database, revision: str) -> None:
    cfg = migrate._config()
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def test_upgrade_warns_about_stored_offenders_and_still_succeeds(
    empty_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(empty_url)
    _upgrade_to(db, "0001")
    with db.engine.begin() as conn:  # as an older version could have stored them
        conn.execute(
            text(
                "INSERT INTO users (id, username, active, created_at) VALUES (1, 'alice', true, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO workflow_definitions (id, name, version, description, source_text, "
                "source_path, checksum, loaded_at) VALUES (1, 'standard', 1, '', 'x', '', 'c', :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO contracts (id, code, title, direction, counterparty_name, currency, "
                "amount, amount_base, start_date, end_date, owner_id, submitted_by_id, "
                "workflow_id, stage, status, current_revision, max_severity, created_at, "
                "updated_at, version) VALUES (1, 'SC/..//x', :title, 'sell', 'X', 'CNY', 10, 10, "
                "'2027-01-01', '2027-12-31', 1, 1, 1, 'fulfilment', 'active', 1, 'none', "
                ":now, :now, 1)"
            ),
            {"title": "Pumps\r\nBcc: x", "now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO obligations (contract_id, oid, party, kind, description, due, "
                "status) VALUES (1, 'OB.1', 'counterparty', 'payment', '', '2027-03-01', 'open')"
            )
        )
    with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
        _upgrade_to(db, "0002")
    assert migrate.current_revision(db) == "0002"
    [warning] = [r.getMessage() for r in caplog.records if "0002" in r.getMessage()]
    assert "3 stored value(s)" in warning
    assert "contract 'SC/..//x': id does not match letters, digits, -, _, #" in warning
    assert "contract 'SC/..//x': title contains a control character" in warning
    assert "contract 'SC/..//x': obligation id 'OB.1' does not match" in warning
    db.dispose()
