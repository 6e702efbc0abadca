"""Scoring a stored contract and keeping its flags (with history) in the database."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, cast

from pydantic_core import to_jsonable_python
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport
from engine.services.runtime import Runtime
from engine.store import models as m

if TYPE_CHECKING:
    from sqlalchemy import Table


def store_report(session: Session, row: m.Contract, report: RiskReport) -> m.RiskEvaluation:
    """Record a report as the contract's current evaluation; older ones stay as history."""
    session.execute(
        update(m.RiskEvaluation)
        .where(m.RiskEvaluation.contract_id == row.id, m.RiskEvaluation.current.is_(True))
        .values(current=False)
    )
    evaluation = m.RiskEvaluation(
        contract_id=row.id,
        revision=row.current_revision,
        as_of=report.as_of,
        ruleset_checksum=report.ruleset_checksum,
        max_severity=report.max_severity.value,
        current=True,
    )
    session.add(evaluation)
    session.flush()
    for flag in report.flags:
        session.add(
            m.RiskFlag(
                evaluation_id=evaluation.id,
                contract_id=row.id,
                rule=flag.rule,
                category=flag.category,
                severity=flag.severity.value,
                message=flag.message,
                subject=flag.subject,
                evidence=_jsonable(flag.evidence),
            )
        )
    row.max_severity = report.max_severity.value
    return evaluation


def evaluate_and_store(
    session: Session, rt: Runtime, row: m.Contract, contract: Contract, as_of: dt.date | None = None
) -> RiskReport:
    """Score `contract` (the terms of `row`'s current revision) with its counterparty's
    register facts and store the flags."""
    from engine.services.register import scored_with_register

    contract = scored_with_register(session, rt, contract, row.counterparty_id, row.id)
    report = rt.evaluator.evaluate([contract], as_of or rt.today())[0]
    store_report(session, row, report)
    return report


def _jsonable(value: object) -> dict[str, object]:
    return dict(json.loads(json.dumps(to_jsonable_python(value))))


def store_reports(session: Session, scored: list[tuple[int, int, RiskReport]]) -> int:
    """Bulk `store_report` for batch re-scoring: (contract id, revision, report) triples.

    Set-based: one UPDATE retires the current evaluations; then on PostgreSQL the new
    evaluations and their flags go in with COPY (ids drawn from the table's sequence first)
    and one UPDATE ... FROM unnest(...) sets every contract's max severity; elsewhere
    multi-row INSERTs and an executemany UPDATE do the same.
    """
    if not scored:
        return 0
    ids = [cid for cid, _, _ in scored]
    session.execute(
        update(m.RiskEvaluation)
        .where(m.RiskEvaluation.contract_id.in_(ids), m.RiskEvaluation.current.is_(True))
        .values(current=False)
    )
    if session.get_bind().dialect.name == "postgresql":
        _copy_reports(session, scored)
    else:
        _insert_reports(session, scored, ids)
    return len(scored)


def _evidence_text(evidence: dict[str, Any]) -> str:
    """The evidence as the JSON text the column stores (what `_jsonable` + the column's
    `json.dumps` give), in one step."""
    return json.dumps(to_jsonable_python(evidence))


def _copy_reports(session: Session, scored: list[tuple[int, int, RiskReport]]) -> None:
    """PostgreSQL: COPY the evaluations and flags on the session's own connection (same
    transaction); the new evaluation ids are taken from the sequence, so no row-by-row
    RETURNING and no read-back."""
    now = dt.datetime.now(dt.UTC)
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('risk_evaluations', 'id')) "
            "FROM generate_series(1, %s)",
            (len(scored),),
        )
        new_ids = [row[0] for row in cur.fetchall()]
        severities = [report.max_severity.value for _, _, report in scored]
        with cur.copy(
            "COPY risk_evaluations (id, contract_id, revision, as_of, ruleset_checksum, "
            "max_severity, current, evaluated_at) FROM STDIN"
        ) as copy:
            for eid, (cid, revision, report), severity in zip(
                new_ids, scored, severities, strict=True
            ):
                copy.write_row(
                    (eid, cid, revision, report.as_of, report.ruleset_checksum, severity, True, now)
                )
        with cur.copy(
            "COPY risk_flags (evaluation_id, contract_id, rule, category, severity, message, "
            "subject, evidence) FROM STDIN"
        ) as copy:
            for eid, (cid, _, report) in zip(new_ids, scored, strict=True):
                for flag in report.flags:
                    copy.write_row(
                        (
                            eid,
                            cid,
                            flag.rule,
                            flag.category,
                            flag.severity.value,
                            flag.message,
                            flag.subject,
                            _evidence_text(flag.evidence),
                        )
                    )
        cur.execute(
            "UPDATE contracts SET max_severity = u.sev "
            "FROM unnest(%s::integer[], %s::text[]) AS u(id, sev) WHERE contracts.id = u.id",
            ([cid for cid, _, _ in scored], severities),
        )


def _insert_reports(
    session: Session, scored: list[tuple[int, int, RiskReport]], ids: list[int]
) -> None:
    """Other databases (SQLite): multi-row INSERTs, new ids read back by contract."""
    from sqlalchemy import bindparam, insert

    session.execute(
        update(m.RiskEvaluation)
        .where(m.RiskEvaluation.contract_id.in_(ids), m.RiskEvaluation.current.is_(True))
        .values(current=False)
    )
    now = dt.datetime.now(dt.UTC)
    session.execute(
        insert(cast("Table", m.RiskEvaluation.__table__)),
        [
            {
                "contract_id": cid,
                "revision": revision,
                "as_of": report.as_of,
                "ruleset_checksum": report.ruleset_checksum,
                "max_severity": report.max_severity.value,
                "current": True,
                "evaluated_at": now,
            }
            for cid, revision, report in scored
        ],
    )
    # One current evaluation per contract: read the new ids back by contract (no
    # RETURNING, which SQLite would only give row by row here).
    new_ids = {
        cid: eid
        for cid, eid in session.execute(
            select(m.RiskEvaluation.contract_id, m.RiskEvaluation.id).where(
                m.RiskEvaluation.contract_id.in_(ids), m.RiskEvaluation.current.is_(True)
            )
        )
    }
    flags = [
        {
            "evaluation_id": new_ids[cid],
            "contract_id": cid,
            "rule": flag.rule,
            "category": flag.category,
            "severity": flag.severity.value,
            "message": flag.message,
            "subject": flag.subject,
            "evidence": _jsonable(flag.evidence),
        }
        for cid, _, report in scored
        for flag in report.flags
    ]
    if flags:
        session.execute(insert(cast("Table", m.RiskFlag.__table__)), flags)
    table = cast("Table", m.Contract.__table__)
    session.execute(
        update(table).where(table.c.id == bindparam("cid")).values(max_severity=bindparam("sev")),
        [{"cid": cid, "sev": report.max_severity.value} for cid, _, report in scored],
    )
