"""audit trail keyed with an HMAC; events pin actor, terms and document; no TRUNCATE

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-03

Existing chains are re-keyed here, not left as legacy: each contract's unkeyed chain is
checked first (sequence, links, SHA-256 hashes, the head on the contract row) and, when it
is intact, every event gets the pinned values as they are stored now (actor name; terms
and kept-document checksums on submit/revise events) and an HMAC with the deployment's
key. A chain that is already broken is left as it was: `audit verify` goes on reporting
it (its events are unkeyed). What was changed before this upgrade without breaking the old
chain cannot be told apart from the original (docs/security.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from engine.store.audit_hash import GENESIS, key_id, keyed_hash, legacy_hash

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = "audit_events is append-only"
COLUMNS = ("actor_name", "terms_sha256", "document_sha256", "key_id")


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("terms_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("document_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    _rekey()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)


# --------------------------------------------------------------------------- re-keying

LEGACY_COLUMNS = (
    "id, contract_id, seq, at, action, actor_id, on_behalf_of_id, task_id, from_stage, "
    "to_stage, revision, comment, details, prev_hash, hash"
)


def _rekey() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM audit_events")).scalar() == 0:
        return
    provider: Callable[[], bytes] | None = context.config.attributes.get("audit_key")
    if provider is None:
        raise RuntimeError(
            "re-keying the audit trail needs the audit key: upgrade with `contractflow init`"
        )
    key = provider()
    kid = key_id(key)
    table = _events_table(bind)
    names: dict[int, str] = {
        uid: name for uid, name in bind.execute(sa.text("SELECT id, username FROM users"))
    }
    pins = _revision_pins(bind)
    heads = {
        cid: (seq, head)
        for cid, seq, head in bind.execute(
            sa.text("SELECT id, audit_seq, audit_head FROM contracts")
        ).all()
    }
    _allow_updates(bind, True)
    try:
        contract_ids = [
            r[0]
            for r in bind.execute(
                sa.text("SELECT DISTINCT contract_id FROM audit_events ORDER BY contract_id")
            )
        ]
        for cid in contract_ids:
            events = [
                dict(r._mapping)
                for r in bind.execute(
                    sa.select(table).where(table.c.contract_id == cid).order_by(table.c.id)
                )
            ]
            if not _legacy_intact(events, heads.get(cid)):
                continue  # already broken: stays unkeyed, `audit verify` reports it
            prev = GENESIS
            for event in events:
                event["actor_name"] = names.get(event["actor_id"])
                if event["action"] in ("submit", "revise") and event["revision"] is not None:
                    terms, document = pins.get((cid, event["revision"]), (None, None))
                    event["terms_sha256"], event["document_sha256"] = terms, document
                new_hash = keyed_hash(key, prev, event)
                bind.execute(
                    table.update()
                    .where(table.c.id == event["id"])
                    .values(
                        actor_name=event["actor_name"],
                        terms_sha256=event.get("terms_sha256"),
                        document_sha256=event.get("document_sha256"),
                        key_id=kid,
                        prev_hash=prev,
                        hash=new_hash,
                    )
                )
                prev = new_hash
            bind.execute(
                sa.text("UPDATE contracts SET audit_head = :head WHERE id = :id"),
                {"head": prev, "id": cid},
            )
    finally:
        _allow_updates(bind, False)


def _events_table(bind: Any) -> sa.Table:
    from engine.store.models import UTCDateTime

    meta = sa.MetaData()
    return sa.Table(
        "audit_events",
        meta,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("contract_id", sa.Integer),
        sa.Column("seq", sa.Integer),
        sa.Column("at", UTCDateTime),
        sa.Column("action", sa.String),
        sa.Column("actor_id", sa.Integer),
        sa.Column("on_behalf_of_id", sa.Integer),
        sa.Column("task_id", sa.Integer),
        sa.Column("from_stage", sa.String),
        sa.Column("to_stage", sa.String),
        sa.Column("revision", sa.Integer),
        sa.Column("comment", sa.Text),
        sa.Column("details", sa.JSON),
        sa.Column("actor_name", sa.String),
        sa.Column("terms_sha256", sa.String),
        sa.Column("document_sha256", sa.String),
        sa.Column("key_id", sa.String),
        sa.Column("prev_hash", sa.String),
        sa.Column("hash", sa.String),
    )


def _revision_pins(bind: Any) -> dict[tuple[int, int], tuple[str, str | None]]:
    """(contract, revision) -> (terms checksum, kept document checksum) as stored now."""
    pins: dict[tuple[int, int], tuple[str, str | None]] = {}
    for cid, number, checksum in bind.execute(
        sa.text("SELECT contract_id, number, checksum FROM contract_revisions")
    ):
        pins[(cid, number)] = (checksum, None)
    for cid, number, content in bind.execute(
        sa.text("SELECT contract_id, revision, content FROM documents WHERE kind = 'contract'")
    ):
        if (cid, number) in pins:
            pins[(cid, number)] = (pins[(cid, number)][0], hashlib.sha256(content).hexdigest())
    return pins


def _legacy_intact(events: list[dict[str, Any]], head: tuple[int, str] | None) -> bool:
    prev = GENESIS
    for expected, event in enumerate(events, start=1):
        if event["seq"] != expected or event["prev_hash"] != prev:
            return False
        if legacy_hash(prev, event) != event["hash"]:
            return False
        prev = event["hash"]
    return head is None or not head[0] or head == (len(events), prev)


def _allow_updates(bind: Any, allow: bool) -> None:
    """Lift the append-only triggers for the re-keying (this transaction only: on failure
    the whole upgrade rolls back, triggers included)."""
    if bind.dialect.name == "postgresql":
        verb = "DISABLE" if allow else "ENABLE"
        op.execute(f"ALTER TABLE audit_events {verb} TRIGGER audit_events_no_update")
    elif allow:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
    else:
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
