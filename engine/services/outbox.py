"""Writing emails to the outbox, in the caller's transaction (DESIGN.md: exactly-once effects).

Whatever causes an email (an obligation reaching a level, a task past its SLA) writes its
row here in the same transaction as the state it records. The unique `key` makes a second
attempt a no-op; the sender (engine.services.alerts) delivers rows and marks them sent.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store import models as m


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


#: The columns `enqueue_many` writes, in order.
_COLUMNS = (
    "key",
    "kind",
    "level",
    "contract_id",
    "task_id",
    "recipients",
    "subject",
    "payload",
    "message_id",
    "status",
    "attempts",
    "created_at",
)


def enqueue_many(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert complete outbox rows in one statement, skipping keys already there (ON
    CONFLICT DO NOTHING: also against a concurrent writer). Returns how many rows were
    offered.

    This runs inside approvals, so it goes to the driver directly: one prepared
    `executemany`, JSON dumped once per row by the standard library (a row's `payload` may
    come as an already-dumped string, `engine.services.task_notices` builds the shared part
    once per transition), timestamps in the form SQLAlchemy stores them. Through the ORM
    or Core the same rows cost about twice the CPU.

    Marks the session so that, once it commits, the prompt sender is woken
    (`engine.store.db.Database.on_outbox_commit`)."""
    if not rows:
        return 0
    conn = session.connection()
    dialect = conn.dialect
    sqlite = dialect.name == "sqlite"
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO outbox ({', '.join(_COLUMNS)}) "  # noqa: S608 (constant column names)
        f"VALUES ({', '.join([mark] * len(_COLUMNS))}) ON CONFLICT (key) DO NOTHING"
    )
    values = []
    for row in rows:
        created = row["created_at"].astimezone(dt.UTC)
        payload = row["payload"]
        values.append(
            (
                row["key"],
                row["kind"],
                row["level"],
                row.get("contract_id"),
                row.get("task_id"),
                json.dumps(row["recipients"]),
                row["subject"],
                payload if isinstance(payload, str) else json.dumps(payload, default=str),
                row["message_id"],
                row.get("status", "pending"),
                row.get("attempts", 0),
                created.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else created,
            )
        )
    conn.exec_driver_sql(sql, values)
    session.info["outbox_written"] = True
    return len(rows)
