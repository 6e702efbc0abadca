"""The audit trail against someone with write access to the database (issue 18, item 5):
a chain recomputed without the key, a deleted history, edited terms, approvers and kept
documents, TRUNCATE; the key file; existing chains re-keyed by the migration."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from engine.errors import InvalidInput
from engine.services import audit, lifecycle
from engine.services.runtime import Runtime
from engine.settings import Settings
from tests.integration.workflow.support import FixedEvaluator, contract_file


def open_task(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def _approved(wrt: Runtime, tmp_path: Path) -> str:
    """Submitted, approved by legal (lena) and the signer (sam): three events."""
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena", "ok")
    lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    assert audit.verify(wrt).verified
    return view.id


def behind_the_back(rt: Runtime, *statements: str, params: dict[str, Any] | None = None) -> None:
    """Write as a DBA would: with the append-only triggers out of the way."""
    with rt.db.engine.begin() as conn:
        if rt.db.dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
        for sql in statements:
            conn.execute(text(sql), params or {})


def _public_hash(prev: str, row: Any) -> str:
    """What an attacker computes with the published algorithm: SHA-256 over the event's
    fields (everything but the key, which they do not have)."""
    stamp = row.at if isinstance(row.at, dt.datetime) else dt.datetime.fromisoformat(row.at)
    stamp = stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)
    when = stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    details = row.details if isinstance(row.details, dict) else json.loads(row.details or "{}")
    body = json.dumps(
        [
            prev,
            row.contract_id,
            row.seq,
            when,
            row.action,
            row.actor_id,
            row.on_behalf_of_id,
            row.task_id,
            row.from_stage,
            row.to_stage,
            row.revision,
            row.comment,
            details or {},
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def test_audit_verify_detects_a_chain_recomputed_without_the_key(
    wrt: Runtime, tmp_path: Path
) -> None:
    code = _approved(wrt, tmp_path)
    behind_the_back(wrt, "UPDATE audit_events SET comment = 'looks fine' WHERE seq = 2")
    # Recompute every hash and the contract's head, as the old public algorithm allows.
    with wrt.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_events ORDER BY id")).all()
    prev = "0" * 64
    statements = []
    for row in rows:
        new = _public_hash(prev, row)
        statements.append(
            f"UPDATE audit_events SET prev_hash = '{prev}', hash = '{new}' WHERE id = {row.id}"
        )
        prev = new
    statements.append(f"UPDATE contracts SET audit_head = '{prev}'")
    behind_the_back(wrt, *statements)
    report = audit.verify(wrt, code)
    assert not report.verified
    assert any("event 2" in p and "without the key" in p for p in report.problems)


def test_audit_verify_detects_a_contract_whose_whole_history_was_deleted(
    wrt: Runtime, tmp_path: Path
) -> None:
    code = _approved(wrt, tmp_path)
    behind_the_back(
        wrt, "DELETE FROM audit_events", "UPDATE contracts SET audit_seq = 0, audit_head = ''"
    )
    report = audit.verify(wrt)
    assert not report.verified
    assert report.problems == [f"{code}: has no audit events - its whole history was deleted"]


def test_audit_verify_detects_edited_approved_terms(wrt: Runtime, tmp_path: Path) -> None:
    code = _approved(wrt, tmp_path)
    with wrt.db.engine.connect() as conn:
        terms = conn.execute(text("SELECT terms FROM contract_revisions")).scalar_one()
    terms = terms if isinstance(terms, dict) else json.loads(terms)
    terms["amount"] = "50000.00"
    checksum = hashlib.sha256(json.dumps(terms, sort_keys=True, default=str).encode()).hexdigest()
    behind_the_back(
        wrt,
        "UPDATE contract_revisions SET terms = :terms, checksum = :checksum",
        params={"terms": json.dumps(terms), "checksum": checksum},
    )
    report = audit.verify(wrt, code)
    assert not report.verified
    assert any("revision 1" in p and "terms" in p for p in report.problems)


def test_audit_verify_detects_a_changed_approver(wrt: Runtime, tmp_path: Path) -> None:
    code = _approved(wrt, tmp_path)
    behind_the_back(
        wrt,
        "UPDATE approvals SET user_id = (SELECT id FROM users WHERE username = 'lars') "
        "WHERE user_id = (SELECT id FROM users WHERE username = 'lena')",
    )
    report = audit.verify(wrt, code)
    assert not report.verified
    assert any("approval by lars that no event records" in p for p in report.problems)


def test_audit_verify_detects_an_edited_kept_document(wrt: Runtime, tmp_path: Path) -> None:
    code = _approved(wrt, tmp_path)
    forged = b"PK forged document"
    behind_the_back(
        wrt,
        "UPDATE documents SET content = :content, sha256 = :sha WHERE kind = 'contract'",
        params={"content": forged, "sha": hashlib.sha256(forged).hexdigest()},
    )
    report = audit.verify(wrt, code)
    assert not report.verified
    assert any("kept document changed" in p for p in report.problems)


def test_the_database_refuses_to_truncate_the_audit_trail(wrt: Runtime, tmp_path: Path) -> None:
    _approved(wrt, tmp_path)
    if wrt.db.dialect != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE trigger covers a DELETE without WHERE")
    with pytest.raises(Exception, match="append-only"), wrt.db.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE audit_events CASCADE")
    with pytest.raises(Exception, match="append-only"), wrt.db.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE contracts CASCADE")
    assert audit.verify(wrt).verified


def test_the_audit_key_is_made_on_first_use_readable_by_the_owner_only(
    wrt: Runtime, tmp_path: Path
) -> None:
    key_file = wrt.settings.data_dir / "audit.key"
    assert not key_file.exists()
    _approved(wrt, tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 64
    with wrt.db.engine.connect() as conn:
        key_ids = set(conn.execute(text("SELECT key_id FROM audit_events")).scalars())
    assert key_ids == {wrt.audit_key.id}


def test_a_key_file_others_can_read_is_refused(wrt: Runtime, tmp_path: Path) -> None:
    key_file = wrt.settings.data_dir / "audit.key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text("a" * 64 + "\n")
    os.chmod(key_file, 0o644)
    with pytest.raises(InvalidInput, match="readable by others"):
        lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")


def test_a_process_with_another_key_refuses_to_sign_and_changes_nothing(
    wrt: Runtime, tmp_path: Path
) -> None:
    code = _approved(wrt, tmp_path)
    other = Runtime(
        Settings(
            database_url=wrt.settings.database_url,
            data_dir=tmp_path / "elsewhere",
            audit_key=SecretStr("b" * 64),
        ),
        clock=wrt.clock,
    )
    other.set_evaluator(FixedEvaluator())
    try:
        with pytest.raises(InvalidInput, match="signed with key"):
            lifecycle.submit(other, contract_file(tmp_path, "b.yaml", id="SC-2"), "alice")
        assert not audit.verify(other, code).verified  # the wrong key cannot vouch for it
    finally:
        other.close()
    assert audit.verify(wrt).verified and audit.verify(wrt).contracts == 1


def test_the_audit_key_can_come_from_the_environment(wrt: Runtime, tmp_path: Path) -> None:
    keyed = Runtime(
        Settings(
            database_url=wrt.settings.database_url,
            data_dir=tmp_path / "data2",
            audit_key=SecretStr("c" * 64),
        ),
        clock=wrt.clock,
    )
    keyed.set_evaluator(FixedEvaluator())
    try:
        lifecycle.submit(keyed, contract_file(tmp_path, amount=500000), "alice")
        assert audit.verify(keyed).verified
        assert not (tmp_path / "data2" / "audit.key").exists()
    finally:
        keyed.close()
    with pytest.raises(InvalidInput, match="at least 32"):
        Runtime(
            Settings(database_url=wrt.settings.database_url, audit_key=SecretStr("short"))
        ).audit_key.get()


def _to_unkeyed_schema(rt: Runtime) -> None:
    """The database as it was before the key: schema 0001 and SHA-256 chains (what the
    product wrote then; the rows are this test's, rehashed the old way)."""

    from engine.store import migrate

    migrate.downgrade(rt.db, "0001")
    with rt.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_events ORDER BY contract_id, id")).all()
    statements: list[str] = []
    prev: dict[int, str] = {}
    heads: dict[int, str] = {}
    for row in rows:
        before = prev.get(row.contract_id, "0" * 64)
        new = _public_hash(before, row)
        statements.append(
            f"UPDATE audit_events SET prev_hash = '{before}', hash = '{new}' WHERE id = {row.id}"
        )
        prev[row.contract_id] = heads[row.contract_id] = new
    statements += [
        f"UPDATE contracts SET audit_head = '{h}' WHERE id = {c}" for c, h in heads.items()
    ]
    behind_the_back(rt, *statements)
    if rt.db.dialect == "sqlite":  # behind_the_back dropped them; 0001 has them
        with rt.db.engine.begin() as conn:
            for verb in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON "
                    "audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
                )


def test_the_upgrade_rekeys_intact_chains_and_keeps_reporting_broken_ones(
    wrt: Runtime, tmp_path: Path
) -> None:
    from engine.store import migrate

    intact = _approved(wrt, tmp_path)
    broken = lifecycle.submit(
        wrt, contract_file(tmp_path, "b.yaml", id="SC-2", amount=500000), "alice"
    ).id
    _to_unkeyed_schema(wrt)
    behind_the_back(
        wrt,
        "UPDATE audit_events SET comment = 'edited before the upgrade' "
        "WHERE contract_id = (SELECT id FROM contracts WHERE code = 'SC-2')",
    )
    wrt.close()
    rt = Runtime(wrt.settings, clock=wrt.clock)
    rt.set_evaluator(FixedEvaluator())
    try:
        migrate.upgrade(rt.db, audit_key=rt.audit_key.get)
        assert audit.verify(rt, intact).verified
        report = audit.verify(rt, broken)
        assert not report.verified
        assert any("not keyed" in p for p in report.problems)
        with rt.db.engine.connect() as conn:
            pinned = conn.execute(
                text(
                    "SELECT terms_sha256, document_sha256, actor_name FROM audit_events "
                    "WHERE seq = 1 AND contract_id = (SELECT id FROM contracts WHERE code = :c)"
                ),
                {"c": intact},
            ).one()
        assert pinned[0] and pinned[1] and pinned[2] == "alice"
        # Keyed from here on: new events chain onto the re-keyed head.
        lifecycle.fulfil_obligation(rt, intact, "OB-1", "alice")
        assert audit.verify(rt, intact).verified
        with pytest.raises(Exception, match="append-only"), rt.db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET comment = 'x'"))
    finally:
        rt.close()


def test_the_upgrade_refuses_to_rekey_without_the_key(wrt: Runtime, tmp_path: Path) -> None:
    from engine.store import migrate

    _approved(wrt, tmp_path)
    _to_unkeyed_schema(wrt)
    try:
        with pytest.raises(RuntimeError, match="needs the audit key"):
            migrate.upgrade(wrt.db)
    finally:  # the PostgreSQL database is shared by the run: leave it at the head
        migrate.upgrade(wrt.db, audit_key=wrt.audit_key.get)
    assert audit.verify(wrt).verified
