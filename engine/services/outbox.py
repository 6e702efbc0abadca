"""Writing emails to the outbox, in the caller's transaction (DESIGN.md: exactly-once effects).

Whatever causes an email (an obligation reaching a level, a task past its SLA) writes its
row here in the same transaction as the state it records. The unique `key` makes a second
attempt a no-op; the sender (engine.services.alerts) delivers rows and marks them sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store import models as m

if TYPE_CHECKING:
    from sqlalchemy import Table


def message_id_for(key: str, domain: str = "contractflow.local") -> str:
    """A stable Message-ID per alert, so a resend after a crash is recognisable."""
    import hashlib

    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    level: str,
    recipients: list[str],
    subject: str,
    payload: dict[str, Any],
    contract_id: int | None = None,
    obligation_id: int | None = None,
    task_id: int | None = None,
) -> m.OutboxMessage | None:
    """Add one outbox row unless `key` is already there; returns the new row or None."""
    if session.scalar(select(m.OutboxMessage.id).where(m.OutboxMessage.key == key)) is not None:
        return None
    row = m.OutboxMessage(
        key=key,
        kind=kind,
        level=level,
        recipients=sorted(set(recipients)),
        subject=subject,
        payload=payload,
        contract_id=contract_id,
        obligation_id=obligation_id,
        task_id=task_id,
        message_id=message_id_for(key),
        status="pending",
        attempts=0,
    )
    session.add(row)
    return row


def enqueue_many(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert complete outbox rows in one statement, skipping keys already there (ON
    CONFLICT DO NOTHING: also against a concurrent writer). Returns how many rows were offered.

    Marks the session so that, once it commits, the prompt sender is woken
    (`engine.store.db.Database.after_outbox_commit`)."""
    if not rows:
        return 0
    table = cast("Table", m.OutboxMessage.__table__)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table).on_conflict_do_nothing(index_elements=["key"])
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["key"])
    result = session.connection().execute(statement, rows)
    session.info["outbox_written"] = True
    return int(getattr(result, "rowcount", 0) or 0) if len(rows) == 1 else len(rows)
