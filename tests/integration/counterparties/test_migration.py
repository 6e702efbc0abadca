"""Migration 0006 on a database that already holds contracts: one register record per
normalised name, every contract linked (both databases)."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from engine.store import migrate
from engine.store.db import Database
from tests.support import fresh_pg_database

NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = os.environ.get("CONTRACTFLOW_TEST_DATABASE_URL")
    if not server:
        pytest.skip("CONTRACTFLOW_TEST_DATABASE_URL is not set")
    with fresh_pg_database(server, "cf_mig_") as url:
        yield url.render_as_string(hide_password=False)


def _upgrade_to(db: Database, revision: str) -> None:
    cfg = migrate._config()
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def test_existing_contracts_are_linked_to_one_record_per_normalised_name(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        _upgrade_to(db, "0001")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, active, created_at) VALUES (1, 'a', true, :t)"
                ),
                {"t": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO workflow_definitions (id, name, version, description, "
                    "source_text, source_path, checksum, loaded_at) "
                    "VALUES (1, 'standard', 1, '', 'x', '', 'c', :t)"
                ),
                {"t": NOW},
            )
            for cid, name, rating in [
                (1, "Acme Trading Ltd", "BB"),
                (2, "  ACME   trading ltd ", "AAA"),
                (3, "Other Co", None),
            ]:
                conn.execute(
                    text(
                        "INSERT INTO contracts (id, code, title, direction, counterparty_name, "
                        "currency, amount, amount_base, start_date, end_date, owner_id, "
                        "submitted_by_id, workflow_id, stage, status, current_revision, "
                        "max_severity, created_at, updated_at, version) VALUES (:id, :code, 't', "
                        "'sell', :name, 'CNY', 10, 10, '2027-01-01', '2027-02-01', 1, 1, 1, "
                        "'legal_review', 'active', 1, 'none', :t, :t, 1)"
                    ),
                    {"id": cid, "code": f"SC-{cid}", "name": name, "t": NOW},
                )
                terms = {"counterparty": {"name": name, "credit_rating": rating}}
                conn.execute(
                    text(
                        "INSERT INTO contract_revisions (contract_id, number, terms, source_name, "
                        "checksum, submitted_by_id, submitted_at) "
                        "VALUES (:id, 1, :terms, '', 'c', 1, :t)"
                    ),
                    {"id": cid, "terms": json.dumps(terms), "t": NOW},
                )
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            parties = conn.execute(
                text("SELECT id, name, name_key, rating, status FROM counterparties ORDER BY id")
            ).all()
            links = dict(conn.execute(text("SELECT code, counterparty_id FROM contracts")).all())
        assert [tuple(p[1:]) for p in parties] == [
            ("Acme Trading Ltd", "acme trading ltd", "BB", "active"),
            ("Other Co", "other co", None, "active"),
        ]
        assert links == {"SC-1": parties[0][0], "SC-2": parties[0][0], "SC-3": parties[1][0]}
    finally:
        db.dispose()
