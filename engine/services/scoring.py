"""Scoring a stored contract and keeping its flags (with history) in the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport
from engine.services.runtime import Runtime
from engine.store import models as m


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
