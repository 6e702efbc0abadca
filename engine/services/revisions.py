"""A revision's terms everywhere they live: the revision row, its kept document, the
guarantees and obligations tables, and its risk evaluation. Submission, revision and (later)
amendments all store terms through these."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport
from engine.errors import InvalidInput
from engine.services.documents import store_revision_document
from engine.services.runtime import Runtime
from engine.services.scoring import evaluate_and_store
from engine.services.transitions import Someone
from engine.services.unit_of_work import table
from engine.store import models as m

if TYPE_CHECKING:
    pass


def checksum(terms: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(terms, sort_keys=True, default=str).encode()).hexdigest()


def sync_items(session: Session, row: m.Contract, contract: Contract) -> None:
    """Guarantees and obligations follow the current revision. An obligation already
    fulfilled or waived stays so unless the new file says otherwise explicitly."""
    old = {
        o.oid: o
        for o in session.scalars(select(m.Obligation).where(m.Obligation.contract_id == row.id))
    }
    for stored in session.scalars(select(m.Guarantee).where(m.Guarantee.contract_id == row.id)):
        session.delete(stored)
    kept = {ob.id for ob in contract.obligations}
    for oid, o in old.items():
        if oid not in kept:
            session.delete(o)
    session.flush()
    for g in contract.guarantees:
        session.add(
            m.Guarantee(
                contract_id=row.id,
                gid=g.id or "",
                kind=g.kind.value,
                amount=g.amount,
                issuer=g.issuer,
                expires_on=g.expires_on,
            )
        )
    for ob in contract.obligations:
        target = old.get(ob.id)
        if target is None:
            target = m.Obligation(contract_id=row.id, oid=ob.id)
            session.add(target)
            status, fulfilled_on = ob.status.value, ob.fulfilled_on
        elif ob.status.value == "open" and target.status != "open":
            status, fulfilled_on = target.status, target.fulfilled_on
        else:
            status, fulfilled_on = ob.status.value, ob.fulfilled_on
        target.party = ob.party.value
        target.kind = ob.kind.value
        target.description = ob.description
        target.due = ob.due
        target.amount = ob.amount
        target.status = status
        target.fulfilled_on = fulfilled_on
        target.owner = ob.owner


@dataclass(frozen=True)
class Prepared:
    """What a new contract's submit computes before its transaction opens."""

    report: RiskReport
    document: dict[str, Any]  # the kept .docx as `documents` row values


def store_new(
    session: Session,
    row: m.Contract,
    contract: Contract,
    prepared: Prepared,
    user: Someone,
    source: str,
    now: dt.datetime,
) -> None:
    """Revision 1 of a contract just inserted, everywhere it lives (what `store_revision`
    does for a revision, as plain INSERTs: a new contract has nothing to replace)."""
    terms = contract.model_dump(mode="json")
    conn = session.connection()  # plain Core: no ORM bookkeeping for rows we never load
    conn.execute(
        insert(table(m.ContractRevision)),
        {
            "contract_id": row.id,
            "number": 1,
            "terms": terms,
            "source_name": source[:255],
            "checksum": checksum(terms),
            "submitted_by_id": user.id,
            "submitted_at": now,
        },
    )
    conn.execute(insert(table(m.Document)), {"contract_id": row.id, **prepared.document})
    if contract.guarantees:
        conn.execute(
            insert(table(m.Guarantee)),
            [
                {
                    "contract_id": row.id,
                    "gid": g.id or "",
                    "kind": g.kind.value,
                    "amount": g.amount,
                    "issuer": g.issuer,
                    "expires_on": g.expires_on,
                }
                for g in contract.guarantees
            ],
        )
    if contract.obligations:
        conn.execute(
            insert(table(m.Obligation)),
            [
                {
                    "contract_id": row.id,
                    "oid": ob.id,
                    "party": ob.party.value,
                    "kind": ob.kind.value,
                    "description": ob.description,
                    "due": ob.due,
                    "amount": ob.amount,
                    "status": ob.status.value,
                    "fulfilled_on": ob.fulfilled_on,
                    "owner": ob.owner,
                }
                for ob in contract.obligations
            ],
        )
    insert_report(session, row.id, prepared.report)


def insert_report(session: Session, contract_id: int, report: RiskReport) -> None:
    """A new contract's first evaluation and its flags (`scoring.store_report` without
    retiring an earlier one: there is none)."""
    from pydantic_core import to_jsonable_python

    conn = session.connection()
    evaluation_id = conn.scalar(
        insert(table(m.RiskEvaluation))
        .values(
            contract_id=contract_id,
            revision=1,
            as_of=report.as_of,
            ruleset_checksum=report.ruleset_checksum,
            max_severity=report.max_severity.value,
            current=True,
        )
        .returning(table(m.RiskEvaluation).c.id)
    )
    if report.flags:
        conn.execute(
            insert(table(m.RiskFlag)),
            [
                {
                    "evaluation_id": evaluation_id,
                    "contract_id": contract_id,
                    "rule": flag.rule,
                    "category": flag.category,
                    "severity": flag.severity.value,
                    "message": flag.message,
                    "subject": flag.subject,
                    "evidence": json.loads(json.dumps(to_jsonable_python(flag.evidence))),
                }
                for flag in report.flags
            ],
        )


def add_revision(
    session: Session,
    row: m.Contract,
    contract: Contract,
    user: Someone,
    source: str,
    now: dt.datetime,
) -> dict[str, Any]:
    terms = contract.model_dump(mode="json")
    session.add(
        m.ContractRevision(
            contract_id=row.id,
            number=row.current_revision,
            terms=terms,
            source_name=source[:255],
            checksum=checksum(terms),
            submitted_by_id=user.id,
            submitted_at=now,
        )
    )
    return terms


def owner_id_for(session: Session, contract: Contract, submitter: Someone) -> int:
    """The owner's user id (the submitter unless the file names someone)."""
    if contract.owner is None or contract.owner == submitter.username:
        return submitter.id
    owner = session.scalar(select(m.User.id).where(m.User.username == contract.owner))
    if owner is None:
        raise InvalidInput(f"owner: user {contract.owner!r} does not exist")
    return owner


def terms_fields(row: m.Contract, contract: Contract, amount_base: Any) -> None:
    row.title = contract.title
    row.direction = contract.direction.value
    row.counterparty_name = contract.counterparty.name
    row.currency = contract.currency
    row.amount = contract.amount
    row.amount_base = amount_base
    row.start_date = contract.start_date
    row.end_date = contract.end_date


def store_revision(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    contract: Contract,
    user: Someone,
    source: str,
    now: dt.datetime,
) -> tuple[dict[str, Any], RiskReport]:
    """The terms of `row`'s current revision everywhere they live: the revision row, its
    kept document, the guarantees and obligations tables, and its risk flags."""
    terms = add_revision(session, row, contract, user, source, now)
    store_revision_document(session, rt, row, row.current_revision, contract)
    sync_items(session, row, contract)
    session.flush()
    return terms, evaluate_and_store(session, rt, row, contract)
