"""The audit trail: append-only, hash-chained per contract (issue 3, item 9).

Each event's hash covers its own fields and the previous event's hash, so changing an
event breaks its own hash, removing one breaks the sequence and the next `prev_hash`, and
reordering breaks both. The contract row records the chain's head (`audit_seq`,
`audit_head`), so removing the last events shows too; new events chain onto that head.
The database refuses UPDATE and DELETE on the table as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict, Unpack, cast

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.domain.views import AuditReport
from engine.errors import NotFound
from engine.services.runtime import Runtime
from engine.store import models as m

if TYPE_CHECKING:
    from sqlalchemy import Table

GENESIS = "0" * 64


def _canonical_time(at: dt.datetime) -> str:
    """Microsecond UTC text: the same on SQLite and PostgreSQL after a round trip."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    prev_hash: str,
    contract_id: int,
    seq: int,
    at: dt.datetime,
    action: str,
    actor_id: int | None,
    on_behalf_of_id: int | None,
    task_id: int | None,
    from_stage: str | None,
    to_stage: str | None,
    revision: int | None,
    comment: str | None,
    details: dict[str, Any],
) -> str:
    body = json.dumps(
        [
            prev_hash,
            contract_id,
            seq,
            _canonical_time(at),
            action,
            actor_id,
            on_behalf_of_id,
            task_id,
            from_stage,
            to_stage,
            revision,
            comment,
            details,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


class EventDetails(TypedDict, total=False):
    """What an event may record besides its contract, action and time (all optional)."""

    actor_id: int | None
    on_behalf_of_id: int | None
    task_id: int | None
    from_stage: str | None
    to_stage: str | None
    revision: int | None
    comment: str | None
    details: dict[str, Any] | None


def _chained(
    contract_id: int, seq: int, prev: str, action: str, at: dt.datetime, event: EventDetails
) -> dict[str, Any]:
    """One `audit_events` row's values, hashed onto `prev` (the previous event's hash)."""
    fields: dict[str, Any] = {
        "contract_id": contract_id,
        "seq": seq,
        "at": at,
        "action": action,
        "actor_id": event.get("actor_id"),
        "on_behalf_of_id": event.get("on_behalf_of_id"),
        "task_id": event.get("task_id"),
        "from_stage": event.get("from_stage"),
        "to_stage": event.get("to_stage"),
        "revision": event.get("revision"),
        "comment": event.get("comment"),
        "details": json.loads(json.dumps(event.get("details") or {}, default=str)),
    }
    return {**fields, "prev_hash": prev, "hash": event_hash(prev_hash=prev, **fields)}


def append(
    session: Session,
    contract_id: int,
    action: str,
    *,
    at: dt.datetime,
    **event: Unpack[EventDetails],
) -> m.AuditEvent:
    """Add the contract's next event. Callers hold the contract row (its version bump
    serialises writers), so reading the last event here is safe."""
    last = session.execute(
        select(m.AuditEvent.seq, m.AuditEvent.hash)
        .where(m.AuditEvent.contract_id == contract_id)
        .order_by(m.AuditEvent.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    row = m.AuditEvent(**_chained(contract_id, seq, prev, action, at, event))
    session.add(row)
    # Record the chain's head on the contract (its row is already locked by the caller).
    session.execute(
        update(m.Contract)
        .where(m.Contract.id == contract_id)
        .values(audit_seq=seq, audit_head=row.hash)
        .execution_options(synchronize_session=False)
    )
    return row


def next_event(
    row: m.Contract,
    action: str,
    *,
    at: dt.datetime,
    **event: Unpack[EventDetails],
) -> dict[str, Any]:
    """The contract's next event as the values of one `audit_events` row, chained onto the
    head the contract row records (`audit_seq`, `audit_head`), which it moves forward.

    This is `append` without its two extra statements (reading the last event, updating
    the head): the caller holds `row` as loaded in its transaction and writes the new head
    with the row's own version-checked UPDATE, then inserts the returned values. A writer
    that raced past would have bumped the row's version (the UPDATE then fails) and would
    collide on `uq_audit_events_contract_seq`: either way one of the two is refused.
    """
    values = _chained(
        row.id, (row.audit_seq or 0) + 1, row.audit_head or GENESIS, action, at, event
    )
    row.audit_seq = values["seq"]
    row.audit_head = values["hash"]
    return values


def insert_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Store events made by `next_event` (one INSERT, no ORM bookkeeping)."""
    if events:
        session.connection().execute(insert(cast("Table", m.AuditEvent.__table__)), events)


def chain_problems(
    code: str, events: Iterable[m.AuditEvent], head: tuple[int, str] | None = None
) -> list[str]:
    """Every break in one contract's chain, events given in storage (id) order; `head` is
    the (seq, hash) the contract recorded for its last event."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    last_seq = 0
    for event in events:
        where = f"{code}: event {event.seq} (id {event.id})"
        if event.seq != expected_seq:
            problems.append(
                f"{where}: expected event {expected_seq} here - an event was removed or reordered"
            )
        if event.prev_hash != prev:
            problems.append(f"{where}: does not follow the previous event (removed or reordered)")
        recomputed = event_hash(
            prev_hash=event.prev_hash,
            contract_id=event.contract_id,
            seq=event.seq,
            at=event.at,
            action=event.action,
            actor_id=event.actor_id,
            on_behalf_of_id=event.on_behalf_of_id,
            task_id=event.task_id,
            from_stage=event.from_stage,
            to_stage=event.to_stage,
            revision=event.revision,
            comment=event.comment,
            details=event.details or {},
        )
        if recomputed != event.hash:
            problems.append(f"{where}: content does not match its hash (changed)")
        prev = event.hash
        expected_seq = event.seq + 1
        last_seq = event.seq
    if head is not None and head[0] and (last_seq, prev) != head:
        if last_seq < head[0]:
            problems.append(
                f"{code}: the trail ends at event {last_seq} but the contract recorded "
                f"{head[0]} - events were removed"
            )
        else:
            problems.append(f"{code}: the last event does not match the head the contract recorded")
    return problems


def verify(rt: Runtime, code: str | None = None) -> AuditReport:
    """Check one contract's chain, or every contract's. Reads in id order, not seq order,
    so a reordering shows up even when the seq numbers were swapped too."""
    with rt.db.reads() as session:
        query = select(
            m.Contract.id, m.Contract.code, m.Contract.audit_seq, m.Contract.audit_head
        ).order_by(m.Contract.id)
        if code is not None:
            query = query.where(m.Contract.code == code)
        contracts = session.execute(query).all()
        if code is not None and not contracts:
            raise NotFound(f"contract {code!r} does not exist")
        problems: list[str] = []
        total = 0
        for cid, ccode, head_seq, head_hash in contracts:
            events = list(
                session.scalars(
                    select(m.AuditEvent)
                    .where(m.AuditEvent.contract_id == cid)
                    .order_by(m.AuditEvent.id)
                )
            )
            total += len(events)
            problems.extend(chain_problems(ccode, events, (head_seq, head_hash)))
        return AuditReport(
            verified=not problems, contracts=len(contracts), events=total, problems=problems
        )
