"""Scoring a stored contract and keeping its flags (with history) in the database."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, cast

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
    """Score `contract` (the terms of `row`'s current revision) and store the flags."""
    report = rt.evaluator.evaluate([contract], as_of or rt.today())[0]
    store_report(session, row, report)
    return report


def _jsonable(value: object) -> dict[str, object]:
    import json

    from pydantic_core import to_jsonable_python

    return dict(json.loads(json.dumps(to_jsonable_python(value))))


def store_reports(session: Session, scored: list[tuple[int, int, RiskReport]]) -> int:
    """Bulk `store_report` for batch re-scoring: (contract id, revision, report) triples.

    Set-based: one UPDATE retires the current evaluations, one multi-row INSERT adds the new
    ones (ids come back in parameter order) and one adds their flags.
    """
    from sqlalchemy import bindparam, insert

    if not scored:
        return 0
    ids = [cid for cid, _, _ in scored]
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
    return len(scored)
