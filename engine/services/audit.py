"""The audit trail: append-only, HMAC-chained per contract (issue 3 item 9, issue 18 item 5).

Each event's hash is an HMAC (keyed with a secret outside the database, see `audit_key`)
over its own fields and the previous event's hash, so changing an event breaks its own
hash, removing one breaks the sequence and the next `prev_hash`, reordering breaks both,
and recomputing the chain needs the key. The contract row records the chain's head
(`audit_seq`, `audit_head`), so removing the last events shows too; new events chain onto
that head. Events pin what they approve: the actor's name, and for submit and revise the
revision's terms checksum and kept document checksum, so `verify` also notices edited
terms, approvers and documents. The database refuses UPDATE, DELETE and (PostgreSQL)
TRUNCATE on the table. docs/security.md says what `verify` can and cannot prove.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict, Unpack, cast

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session

from engine.domain.views import AuditReport
from engine.errors import NotFound
from engine.services.audit_key import session_key, where_from
from engine.services.runtime import Runtime
from engine.store import models as m
from engine.store.audit_hash import FIELDS, GENESIS, keyed_hash, terms_checksum

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = ["GENESIS", "append", "insert_events", "next_event", "revision_pins", "verify"]

#: Actions that bring a revision in; their events pin its terms and kept document.
REVISION_ACTIONS = frozenset({"submit", "revise"})


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
    actor_name: str | None
    terms_sha256: str | None
    document_sha256: str | None


def _chained(
    key: tuple[bytes, str],
    contract_id: int,
    seq: int,
    prev: str,
    action: str,
    at: dt.datetime,
    event: EventDetails,
) -> dict[str, Any]:
    """One `audit_events` row's values, HMAC'd onto `prev` (the previous event's hash)."""
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
        "actor_name": event.get("actor_name"),
        "terms_sha256": event.get("terms_sha256"),
        "document_sha256": event.get("document_sha256"),
    }
    secret, kid = key
    return {**fields, "key_id": kid, "prev_hash": prev, "hash": keyed_hash(secret, prev, fields)}


def revision_pins(session: Session, contract_id: int, revision: int) -> EventDetails:
    """The checksums a submit or revise event pins: the revision's terms (as stored) and
    its kept document. One indexed lookup, only on the events that bring a revision in;
    both rows are already flushed, and not flushing here keeps the contract row's UPDATE
    (the lock) where `transitions.write` puts it."""
    with session.no_autoflush:
        found = _pins_query(session, contract_id, revision)
    if found is None:
        return {}
    return {"terms_sha256": found[0], "document_sha256": found[1]}


def _pins_query(session: Session, contract_id: int, revision: int) -> Any:
    return session.execute(
        select(m.ContractRevision.checksum, m.Document.sha256)
        .outerjoin(
            m.Document,
            and_(
                m.Document.contract_id == m.ContractRevision.contract_id,
                m.Document.revision == m.ContractRevision.number,
                m.Document.kind == "contract",
            ),
        )
        .where(
            m.ContractRevision.contract_id == contract_id,
            m.ContractRevision.number == revision,
        )
        .limit(1)
    ).first()


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
    if event.get("actor_id") is not None and "actor_name" not in event:
        event["actor_name"] = session.scalar(
            select(m.User.username).where(m.User.id == event["actor_id"])
        )
    key = session_key(session).for_writing(session)
    last = session.execute(
        select(m.AuditEvent.seq, m.AuditEvent.hash)
        .where(m.AuditEvent.contract_id == contract_id)
        .order_by(m.AuditEvent.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    row = m.AuditEvent(**_chained(key, contract_id, seq, prev, action, at, event))
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
    session: Session,
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
    key = session_key(session).for_writing(session)
    values = _chained(
        key, row.id, (row.audit_seq or 0) + 1, row.audit_head or GENESIS, action, at, event
    )
    row.audit_seq = values["seq"]
    row.audit_head = values["hash"]
    return values


def insert_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Store events made by `next_event` (one INSERT, no ORM bookkeeping)."""
    if events:
        session.connection().execute(insert(cast("Table", m.AuditEvent.__table__)), events)


def chain_problems(
    code: str,
    events: Iterable[m.AuditEvent],
    head: tuple[int, str] | None = None,
    key: tuple[bytes, str] | None = None,
) -> list[str]:
    """Every break in one contract's chain, events given in storage (id) order; `head` is
    the (seq, hash) the contract recorded for its last event, `key` the key and its id."""
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
        if key is not None:
            problems.extend(_hash_problems(where, event, key))
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


def _hash_problems(where: str, event: m.AuditEvent, key: tuple[bytes, str]) -> list[str]:
    secret, kid = key
    if event.key_id is None:
        return [f"{where}: not keyed (an unkeyed event: forged, or left over from before the key)"]
    if event.key_id != kid:
        return [
            f"{where}: signed with key {event.key_id}, not this deployment's key {kid} "
            "(a wrong or lost key, or a forged event)"
        ]
    values = {name: getattr(event, name) for name in FIELDS}
    if not hmac.compare_digest(keyed_hash(secret, event.prev_hash, values), event.hash):
        return [
            f"{where}: content does not match its hash (changed, or the chain was "
            "recomputed without the key)"
        ]
    return []


def _pinned_problems(
    session: Session, code: str, contract_id: int, events: list[m.AuditEvent]
) -> list[str]:
    """What the events pin against what is stored now: each revision's terms and kept
    document, the approvals of the contract's tasks, and the actors' names."""
    problems: list[str] = []
    revisions = {
        number: (terms, checksum)
        for number, terms, checksum in session.execute(
            select(
                m.ContractRevision.number, m.ContractRevision.terms, m.ContractRevision.checksum
            ).where(m.ContractRevision.contract_id == contract_id)
        )
    }
    documents: dict[int, list[bytes]] = defaultdict(list)
    for number, content in session.execute(
        select(m.Document.revision, m.Document.content).where(
            m.Document.contract_id == contract_id, m.Document.kind == "contract"
        )
    ):
        documents[number].append(content)
    pinned: set[int] = set()
    for event in events:
        if event.revision is None or event.action not in REVISION_ACTIONS:
            continue
        where = f"{code}: revision {event.revision}"
        pinned.add(event.revision)
        found = revisions.get(event.revision)
        if found is None:
            problems.append(f"{where}: recorded by event {event.seq} but no longer stored")
            continue
        terms, checksum = found
        if event.terms_sha256 is not None and event.terms_sha256 != checksum:
            problems.append(f"{where}: terms checksum changed since event {event.seq}")
        elif event.terms_sha256 is not None and terms_checksum(terms) != checksum:
            problems.append(f"{where}: terms changed since event {event.seq} recorded them")
        if event.document_sha256 is not None:
            kept = documents.get(event.revision, [])
            if not kept:
                problems.append(f"{where}: kept document removed (event {event.seq} recorded it)")
            for content in kept:
                if hashlib.sha256(content).hexdigest() != event.document_sha256:
                    problems.append(
                        f"{where}: kept document changed since event {event.seq} recorded it"
                    )
    for number in sorted(set(revisions) - pinned):
        problems.append(f"{code}: revision {number} is not in the audit trail (added outside it)")
    recorded = {(e.task_id, e.actor_id, e.on_behalf_of_id) for e in events if e.action == "approve"}
    stored = set(
        session.execute(
            select(m.Approval.task_id, m.Approval.user_id, m.Approval.on_behalf_of_id)
            .join(m.Task, m.Task.id == m.Approval.task_id)
            .where(m.Task.contract_id == contract_id)
        ).tuples()
    )
    names = _user_names(
        session, {e.actor_id for e in events if e.actor_id is not None} | {a[1] for a in stored}
    )
    for task_id, user_id, _for in sorted(stored - recorded, key=str):
        problems.append(
            f"{code}: task {task_id}: an approval by {names.get(user_id, user_id)} that no "
            "event records (approver changed or approval added)"
        )
    for task, approver, _for in sorted(recorded - stored, key=str):
        problems.append(
            f"{code}: task {task}: the approval by {names.get(approver, approver)} that the "
            "trail records is missing (approver changed or approval removed)"
        )
    for event in events:
        if event.actor_id is None or event.actor_name is None:
            continue
        now_named = names.get(event.actor_id)
        if now_named != event.actor_name:
            problems.append(
                f"{code}: event {event.seq}: acted by {event.actor_name}, but user "
                f"{event.actor_id} is now {now_named or 'gone'} (a user was renamed or replaced)"
            )
    return problems


def _user_names(session: Session, ids: set[Any]) -> dict[Any, str]:
    if not ids:
        return {}
    return dict(session.execute(select(m.User.id, m.User.username).where(m.User.id.in_(ids))).all())


def verify(rt: Runtime, code: str | None = None) -> AuditReport:
    """Check one contract's chain, or every contract's, and what the events pin. Reads in
    id order, not seq order, so a reordering shows up even when the seq numbers were
    swapped too."""
    key = (rt.audit_key.get(), rt.audit_key.id)
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
            if not events:
                # Every contract is stored with its submit event, in one transaction.
                problems.append(f"{ccode}: has no audit events - its whole history was deleted")
                continue
            problems.extend(chain_problems(ccode, events, (head_seq, head_hash), key))
            problems.extend(_pinned_problems(session, ccode, cid, events))
        if any("not this deployment's key" in p for p in problems):
            problems.append(f"the key in use comes from {where_from(rt.settings)}")
        return AuditReport(
            verified=not problems, contracts=len(contracts), events=total, problems=problems
        )
