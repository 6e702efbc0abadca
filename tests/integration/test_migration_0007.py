"""Revision 0007 on a database that already holds contracts: nothing is lost (SQLite copies
tables to change a CHECK constraint) and the renewal terms are filled in from the stored
revisions."""

from __future__ import annotations

import datetime as dt
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


def _at_0001(db: Database) -> None:
    cfg = migrate._config()
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")


def test_upgrade_keeps_contracts_and_copies_renewal_terms(empty_url: str) -> None:
    db = Database(empty_url)
    _at_0001(db)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, active, created_at) VALUES (1, 'alice', true, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(text("INSERT INTO roles (name, description) VALUES ('legal', '')"))
        conn.execute(
            text(
                "INSERT INTO workflow_definitions (id, name, version, description, source_text, "
                "source_path, checksum, loaded_at) VALUES (1, 'standard', 1, '', 'x', '', 'c', :now)"
            ),
            {"now": NOW},
        )
        for cid, terms in ((1, '{"auto_renewal": true, "renewal_notice_days": 60}'), (2, "{}")):
            conn.execute(
                text(
                    "INSERT INTO contracts (id, code, title, direction, counterparty_name, currency, "
                    "amount, amount_base, start_date, end_date, owner_id, submitted_by_id, "
                    "workflow_id, stage, status, current_revision, max_severity, created_at, "
                    "updated_at, version) VALUES (:id, :code, 'T', 'sell', 'X', 'CNY', 10, 10, "
                    "'2027-01-01', '2027-12-31', 1, 1, 1, 'fulfilment', 'active', 1, 'none', "
                    ":now, :now, 1)"
                ),
                {"id": cid, "code": f"SC-{cid}", "now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO contract_revisions (contract_id, number, terms, source_name, "
                    "checksum, submitted_by_id, submitted_at) VALUES (:id, 1, :terms, '', 'c', 1, :now)"
                ),
                {"id": cid, "terms": terms, "now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO tasks (contract_id, revision, stage, role, approvals_required, "
                    "status, created_at, version) VALUES (:id, 1, 'legal_review', 'legal', 1, "
                    "'approved', :now, 1)"
                ),
                {"id": cid, "now": NOW},
            )
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code, auto_renewal, renewal_notice_days FROM contracts ORDER BY id")
        ).all()
        assert [(c, bool(a), n) for c, a, n in rows] == [("SC-1", True, 60), ("SC-2", False, None)]
        assert conn.execute(text("SELECT count(*) FROM contract_revisions")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM tasks")).scalar() == 2
        conn.execute(text("UPDATE contracts SET status = 'terminated' WHERE id = 1"))
    db.dispose()
