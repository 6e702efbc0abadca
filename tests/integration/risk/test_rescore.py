"""Stored flags: submit scores and stores; batch re-scoring writes only what changed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from engine.services import lifecycle
from engine.services.rescore import rescore, rescore_chunk
from engine.services.rules import load_shipped_rules
from engine.services.runtime import Runtime
from engine.services.users import add_user
from engine.services.workflows import load_shipped_workflows
from engine.store import models as m
from tests.support import EXAMPLES


def _count(rt: Runtime, model: type[m.Base], *where: object) -> int:
    with rt.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _submit_examples(rt: Runtime) -> None:
    load_shipped_workflows(rt)
    load_shipped_rules(rt)
    add_user(rt, "alice", ["contract_admin"])
    for name in ("SC-2026-0042.yaml", "SC-2026-0051.yaml", "PO-2026-0107.yaml"):
        lifecycle.submit(rt, EXAMPLES / name, "alice")


def test_rescore_writes_only_changed_flags_and_keeps_history(rt: Runtime) -> None:
    _submit_examples(rt)  # scored as of the clock: 2027-01-04
    evaluations = _count(rt, m.RiskEvaluation)
    assert evaluations == 3
    same_day = rescore(rt, dt.date(2027, 1, 4))
    assert same_day["contracts"] == 3 and same_day["changed"] == 0
    assert _count(rt, m.RiskEvaluation) == evaluations
    later = rescore(rt, dt.date(2027, 3, 1))
    assert later["changed"] >= 2  # obligations fell overdue
    assert _count(rt, m.RiskEvaluation, m.RiskEvaluation.current.is_(True)) == 3
    assert _count(rt, m.RiskEvaluation) == evaluations + later["changed"]
    with rt.db.transaction() as s:
        row = s.scalar(select(m.Contract).where(m.Contract.code == "SC-2026-0042"))
        assert row is not None and row.max_severity == "critical"
        subjects = s.scalars(
            select(m.RiskFlag.subject)
            .join(m.RiskEvaluation, m.RiskFlag.evaluation_id == m.RiskEvaluation.id)
            .where(m.RiskEvaluation.contract_id == row.id, m.RiskEvaluation.current.is_(True))
        ).all()
    assert sorted(s for s in subjects if s) == ["OB-1", "OB-2", "OB-3"]
    again = rescore(rt, dt.date(2027, 3, 1))
    assert again["changed"] == 0


def test_rescore_chunk_is_callable_chunk_by_chunk(rt: Runtime) -> None:
    from engine.risk.python import PythonEvaluator

    rt.set_evaluator(PythonEvaluator(rt.rules, rt.risk_config))
    _submit_examples(rt)
    with rt.db.transaction() as s:
        ids = list(s.scalars(select(m.Contract.id).order_by(m.Contract.id)))
    first = rescore_chunk(rt, ids[:2], dt.date(2027, 3, 1))
    second = rescore_chunk(rt, ids[2:], dt.date(2027, 3, 1))
    assert first["scored"] == 2 and second["scored"] == 1


def test_bulk_written_flags_are_what_the_evaluator_reported(rt: Runtime) -> None:
    """The set-based writes (COPY on PostgreSQL) store every field of every flag, the
    evaluation's severity and the contract's `max_severity` as the report has them; with
    one contract per chunk the next chunk is read ahead (PostgreSQL) while one is scored."""
    _submit_examples(rt)
    day = dt.date(2027, 3, 1)
    assert rescore(rt, day, chunk_size=1)["changed"] >= 2  # the rest were already current
    assert _stored_flags_match_reports(rt, day) >= 2


def test_a_chunk_read_ahead_is_rechecked_against_the_current_revision(rt: Runtime) -> None:
    """Terms read ahead for a revision that is no longer current are read again inside
    the writing transaction: the stored flags are those of the current revision."""
    from engine.services.rescore import load_chunk

    _submit_examples(rt)
    with rt.db.transaction() as s:
        ids = list(s.scalars(select(m.Contract.id).order_by(m.Contract.id)))
    loaded = load_chunk(rt, ids)
    (cid, revision, _), other = loaded[0], loaded[1][2]
    # As if contract `cid` had been read ahead at another revision with other terms.
    stale = [(cid, revision + 1, other), *loaded[1:]]
    day = dt.date(2027, 3, 1)
    assert rescore_chunk(rt, ids, day, stale)["scored"] == 3
    _stored_flags_match_reports(rt, day)


def _stored_flags_match_reports(rt: Runtime, day: dt.date) -> int:
    """Every contract's current evaluation and flags equal a fresh report of its current
    revision (as of the evaluation's date); returns how many were written as of `day`."""
    from engine.domain.contract import Contract
    from engine.services.scoring import _jsonable

    with rt.db.transaction() as s:
        rows = s.execute(
            select(m.Contract, m.ContractRevision.terms).join(
                m.ContractRevision,
                (m.ContractRevision.contract_id == m.Contract.id)
                & (m.ContractRevision.number == m.Contract.current_revision),
            )
        ).all()
        written = 0
        for contract_row, terms in rows:
            contract = Contract.model_validate(terms, context={"stored": True})
            evaluation = s.scalars(
                select(m.RiskEvaluation).where(
                    m.RiskEvaluation.contract_id == contract_row.id,
                    m.RiskEvaluation.current.is_(True),
                )
            ).one()
            rewritten = evaluation.as_of == day
            report = rt.evaluator.evaluate([contract], evaluation.as_of)[0]
            assert evaluation.revision == contract_row.current_revision
            assert evaluation.ruleset_checksum == report.ruleset_checksum
            assert evaluation.max_severity == report.max_severity.value
            assert contract_row.max_severity == report.max_severity.value
            stored = s.scalars(
                select(m.RiskFlag)
                .where(m.RiskFlag.evaluation_id == evaluation.id)
                .order_by(m.RiskFlag.id)
            ).all()
            assert [
                (f.contract_id, f.rule, f.category, f.severity, f.message, f.subject, f.evidence)
                for f in stored
            ] == [
                (
                    contract_row.id,
                    f.rule,
                    f.category,
                    f.severity.value,
                    f.message,
                    f.subject,
                    _jsonable(f.evidence),
                )
                for f in report.flags
            ]
            written += rewritten
    return written


def test_a_contract_the_engine_cannot_evaluate_is_reported_and_the_batch_goes_on(
    rt: Runtime,
) -> None:
    """One contract that makes the engine fail (here a backend that refuses SC-2026-0051,
    standing in for a crashed durable_rules worker) is listed in `failed`, keeps its
    stored flags, and every other contract of the chunk is still scored and stored."""
    from engine.risk.pool import RiskEngineError
    from engine.risk.python import PythonEvaluator

    class FailsOnOne(PythonEvaluator):
        def evaluate(self, contracts, as_of, params=None):  # type: ignore[no-untyped-def]
            if any(c.id == "SC-2026-0051" for c in contracts):
                raise RiskEngineError("the rules engine worker crashed twice; giving up")
            return super().evaluate(contracts, as_of, params)

    _submit_examples(rt)
    rt.set_evaluator(FailsOnOne(rt.rules, rt.risk_config))
    result = rescore(rt, dt.date(2027, 3, 1))
    assert result["failed"] == [
        "SC-2026-0051: could not be evaluated (the rules engine worker crashed twice; giving up)"
    ]
    assert result["contracts"] == 2
    assert result["changed"] >= 1  # SC-2026-0042's obligations fell overdue and were stored
    with rt.db.transaction() as s:
        row = s.scalar(select(m.Contract).where(m.Contract.code == "SC-2026-0042"))
        assert row is not None and row.max_severity == "critical"
