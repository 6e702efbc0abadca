"""The schema itself refuses what the product would refuse, on both databases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from engine.services.runtime import Runtime
from engine.store import models as m
from engine.store.db import Database

NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def test_migrations_match_the_models(rt: Runtime) -> None:
    with rt.db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, m.Base.metadata) == []


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def _contract_rows(rt: Runtime) -> tuple[int, int]:
    with rt.db.transaction() as s:
        user = m.User(username="alice")
        wf = m.WorkflowDefinition(name="standard", version=1, source_text="x", checksum="c")
        s.add_all([user, wf])
        s.flush()
        return user.id, wf.id


def _contract(user_id: int, wf_id: int, **over: object) -> m.Contract:
    values: dict[str, object] = dict(
        code="SC-1",
        title="T",
        direction="sell",
        counterparty_name="X",
        currency="CNY",
        amount=Decimal(10),
        amount_base=Decimal(10),
        start_date=dt.date(2027, 1, 1),
        end_date=dt.date(2027, 2, 1),
        owner_id=user_id,
        submitted_by_id=user_id,
        workflow_id=wf_id,
        stage="drafting",
    )
    values.update(over)
    return m.Contract(**values)


@pytest.mark.parametrize(
    "override",
    [
        {"direction": "lend"},
        {"amount": Decimal(0)},
        {"end_date": dt.date(2026, 1, 1)},
        {"status": "paused"},
        {"max_severity": "extreme"},
        {"owner_id": 999},
    ],
    ids=["direction", "amount", "dates", "status", "severity", "foreign_key"],
)
def test_contract_checks_live_in_the_schema(rt: Runtime, override: dict[str, object]) -> None:
    uid, wid = _contract_rows(rt)
    with pytest.raises(IntegrityError), rt.db.transaction() as s:
        s.add(_contract(uid, wid, **override))


def test_duplicate_obligation_ids_are_refused(rt: Runtime) -> None:
    uid, wid = _contract_rows(rt)
    with rt.db.transaction() as s:
        c = _contract(uid, wid)
        s.add(c)
        s.flush()
        cid = c.id
    ob = dict(contract_id=cid, oid="OB-1", party="us", kind="payment", due=dt.date(2027, 1, 1))
    with pytest.raises(IntegrityError), rt.db.transaction() as s:
        s.add_all([m.Obligation(**ob), m.Obligation(**ob)])
    with pytest.raises(IntegrityError), rt.db.transaction() as s:
        s.add(m.Obligation(**ob, status="fulfilled"))  # fulfilled without fulfilled_on


def test_audit_events_are_append_only(rt: Runtime) -> None:
    uid, wid = _contract_rows(rt)
    with rt.db.transaction() as s:
        c = _contract(uid, wid)
        s.add(c)
        s.flush()
        s.add(m.AuditEvent(contract_id=c.id, seq=1, action="submit", prev_hash="0", hash="h"))
    for statement in ("UPDATE audit_events SET comment = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), rt.db.transaction() as s:
            s.execute(text(statement))
