"""How the lifecycle writes: what one action reads and writes, and how it meets other
writers (optimistic locking, SQLite's write lock, read-only sessions)."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from engine.errors import Conflict
from engine.services import audit, lifecycle, transitions
from engine.services.runtime import Runtime
from engine.services.views import show
from engine.store import db as dbmod
from engine.store import models as m
from tests.integration.workflow.support import contract_file
from tests.support import FrozenClock


def _open(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


@contextmanager
def _statements(rt: Runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", record)


def test_an_action_moves_the_chain_head_and_stamps_the_clock_time(
    wrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice")
    clock.now += clock.now.resolution * 1000  # a millisecond later
    lifecycle.act(wrt, _open(view, "legal"), "approve", "lena", "ok")
    with wrt.db.reads() as session:
        row = session.scalar(select(m.Contract).where(m.Contract.code == view.id))
        assert row is not None
        events = list(
            session.scalars(
                select(m.AuditEvent)
                .where(m.AuditEvent.contract_id == row.id)
                .order_by(m.AuditEvent.seq)
            )
        )
        # The row records the head of its chain (what `audit verify` checks removals by)
        # and the action's time from the runtime's clock, not the wall clock.
        assert (row.audit_seq, row.audit_head) == (2, events[-1].hash)
        assert events[-1].prev_hash == events[0].hash
        assert row.updated_at == clock.now == events[-1].at
    assert audit.verify(wrt, view.id).verified


def test_the_workflow_definition_is_read_once_per_database(wrt: Runtime, tmp_path: Path) -> None:
    lifecycle.submit(wrt, contract_file(tmp_path, "a.yaml", id=None), "alice")
    with _statements(wrt) as seen:
        view = lifecycle.submit(wrt, contract_file(tmp_path, "b.yaml", id=None), "alice")
        lifecycle.decide(wrt, _open(view, "legal"), "approve", "lena")
    # Versions are immutable: the parsed definition is kept; only the newest version's id
    # is looked up when a contract starts.
    touching = [s for s in seen if "workflow_definitions" in s]
    assert len(touching) == 1 and "workflow_definitions.id" in touching[0]


def test_an_approval_reads_what_it_needs_in_few_statements(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    with _statements(wrt) as seen:
        lifecycle.decide(wrt, _open(view, "legal"), "approve", "lena")
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    writes = [s for s in seen if not s.lstrip().upper().startswith(("SELECT", "BEGIN"))]
    # task + contract, the acting user, the stage's open tasks; then the contract row
    # (version-checked), the task, the approval, the signing task and the audit event.
    # Opening the signing task emails its holders: the contract's flags, who they are
    # (with their delegates, one statement), then one outbox INSERT.
    assert len(reads) == 5, reads
    assert "risk_flags" in reads[3]
    assert "user_roles" in reads[4] and "delegations" in reads[4]
    assert [" ".join(w.split()[:2]) for w in writes[:2]] == ["UPDATE contracts", "UPDATE tasks"]
    assert len(writes) == 6, writes
    assert writes[-1].lstrip().upper().startswith("INSERT INTO OUTBOX")


def test_a_change_committed_after_the_read_makes_the_action_a_conflict(
    wrt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if wrt.db.dialect == "sqlite":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: no one commits meanwhile")
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice")
    legal, finance = _open(view, "legal"), _open(view, "finance")
    other = Runtime(wrt.settings, clock=wrt.clock)
    original = transitions.state
    raced: list[str] = []

    def state_then_race(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        if not raced:  # another reviewer commits between our reads and our writes
            raced.append("racing")
            raced.append(lifecycle.decide(other, finance, "approve", "fei").task_status)
        return found

    monkeypatch.setattr(transitions, "state", state_then_race)
    try:
        with pytest.raises(Conflict):
            lifecycle.decide(wrt, legal, "approve", "lena")
    finally:
        other.close()
    assert raced == ["racing", "approved"]
    after = show(wrt, view.id)
    assert [h.action for h in after.history] == ["submit", "approve"]  # fei's only
    assert next(t for t in after.tasks if t.id == legal).status == "open"
    with wrt.db.reads() as session:
        assert session.scalar(select(func.count()).select_from(m.Approval)) == 1
    assert audit.verify(wrt, view.id).verified
    monkeypatch.undo()
    assert lifecycle.decide(wrt, legal, "approve", "lena").stage == "signing"  # retry works


def _sqlite_path(rt: Runtime) -> str:
    return rt.db.engine.url.database or ""


def test_sqlite_readers_do_not_wait_for_a_writer(wrt: Runtime, tmp_path: Path) -> None:
    if wrt.db.dialect != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice")
    writer = sqlite3.connect(_sqlite_path(wrt), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # someone holds the write lock
        started = time.monotonic()
        assert show(wrt, view.id).stage == "legal_review"
        assert time.monotonic() - started < 2  # a write transaction would wait 10 s here
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_sqlite_writers_still_give_up_after_the_busy_timeout(
    wrt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if wrt.db.dialect != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice")
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 300)
    writer = sqlite3.connect(_sqlite_path(wrt), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            lifecycle.decide(wrt, _open(view, "legal"), "approve", "lena")
        assert 0.25 < time.monotonic() - started < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert show(wrt, view.id).history[-1].action == "submit"  # nothing was written


def test_a_sqlite_writer_gets_the_lock_soon_after_it_is_released(
    wrt: Runtime, tmp_path: Path
) -> None:
    if wrt.db.dialect != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice")
    writer = sqlite3.connect(_sqlite_path(wrt), isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    released: list[float] = []

    def release() -> None:
        time.sleep(1.5)
        released.append(time.monotonic())
        writer.execute("ROLLBACK")

    thread = threading.Thread(target=release)
    task = _open(view, "legal")
    # A full garbage collection late in a long test run can pause the process for longer
    # than the 100 ms this tells apart; it is not the lock wait being measured.
    gc.disable()
    thread.start()
    try:
        outcome = lifecycle.decide(wrt, task, "approve", "lena")
        waited_after_release = time.monotonic() - released[0]
    finally:
        gc.enable()
        thread.join()
        writer.close()
    assert outcome.task_status == "approved"
    # SQLite's own busy handler sleeps up to 100 ms between tries by then; ours a few ms
    # (the approval itself takes a few ms more).
    assert waited_after_release < 0.09
