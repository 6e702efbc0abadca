"""The evaluation report: facts gathered from the database, laid out by `engine.documents`.

Obligations come with their tracked statuses (fulfilment is recorded in the obligations
table, not in the submitted terms); risk flags from every stored evaluation, grouped by
rule and subject so one flag seen on 40 nightly re-scorings is one line with its first and
last date; approvals from tasks; comments from the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.documents.report import (
    SEVERITY_RANK,
    ApprovalRecord,
    CommentRecord,
    EvaluationInput,
    FlagHistory,
)
from engine.services.documents import DocumentFile, contract_row, document_filename
from engine.services.runtime import Runtime
from engine.store import models as m


def _flag_history(session: Session, contract_id: int) -> list[FlagHistory]:
    rows = session.execute(
        select(m.RiskFlag, m.RiskEvaluation.as_of, m.RiskEvaluation.current)
        .join(m.RiskEvaluation, m.RiskEvaluation.id == m.RiskFlag.evaluation_id)
        .where(m.RiskFlag.contract_id == contract_id)
        .order_by(m.RiskEvaluation.as_of, m.RiskEvaluation.id, m.RiskFlag.id)
    ).all()
    grouped: dict[tuple[str, str | None], FlagHistory] = {}
    for flag, as_of, current in rows:
        key = (flag.rule, flag.subject)
        seen = grouped.get(key)
        if seen is None:
            grouped[key] = FlagHistory(
                rule=flag.rule,
                category=flag.category,
                severity=flag.severity,
                message=flag.message,
                subject=flag.subject,
                first_seen=as_of,
                last_seen=as_of,
                evaluations=1,
                current=bool(current),
            )
            continue
        worst = max(seen.severity, flag.severity, key=lambda s: SEVERITY_RANK.get(s, 0))
        grouped[key] = FlagHistory(
            rule=flag.rule,
            category=flag.category,
            severity=worst,
            message=flag.message,
            subject=flag.subject,
            first_seen=seen.first_seen,
            last_seen=max(seen.last_seen, as_of),
            evaluations=seen.evaluations + 1,
            current=seen.current or bool(current),
        )
    return sorted(
        grouped.values(),
        key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.first_seen, f.rule),
    )


def gather(rt: Runtime, code: str, as_of: dt.date | None = None) -> EvaluationInput:
    """Everything the report states about one contract, read in one session."""
    from engine.services.views import contract_view, current_contract

    with rt.db.sessions() as session:
        row = contract_row(session, code)
        view = contract_view(session, rt, row)
        contract = current_contract(session, row)
        approvals = [
            ApprovalRecord(
                stage=t.stage,
                role=t.role,
                decided_by=t.decided_by or ", ".join(t.approved_by),
                status=t.status,
                opened_at=t.created_at,
                closed_at=t.closed_at,
                revision=t.revision,
                comment=t.comment,
            )
            for t in view.tasks
        ]
        comments = [
            CommentRecord(
                at=h.at,
                who=h.actor or "system",
                action=h.action,
                stage=h.from_stage or "",
                comment=h.comment,
            )
            for h in view.history
            if h.comment
        ]
        return EvaluationInput(
            code=row.code,
            contract=contract,
            stage=row.stage,
            status=row.status,
            workflow=f"{view.workflow} v{view.workflow_version}",
            owner=view.owner,
            revisions=row.current_revision,
            max_severity=row.max_severity,
            as_of=as_of or rt.today(),
            generated_at=rt.clock(),
            flags=_flag_history(session, row.id),
            approvals=approvals,
            comments=comments,
        )


def evaluation_report(rt: Runtime, code: str, as_of: dt.date | None = None) -> tuple[str, bytes]:
    """(file name, .docx bytes) of the contract's evaluation report."""
    from engine.documents.report import render_report
    from engine.documents.templates import load_company

    data = gather(rt, code, as_of)
    content = render_report(data, load_company(rt.settings.templates_dir))
    return document_filename(data.code, data.revisions, "report"), content


def store_evaluation_report(rt: Runtime, code: str, as_of: dt.date | None = None) -> m.Document:
    """Write the report and keep it (kind `report`) so the evaluation task can link to it."""
    filename, content = evaluation_report(rt, code, as_of)
    with rt.db.transaction() as session:
        row = contract_row(session, code)
        doc = m.Document(
            contract_id=row.id,
            revision=row.current_revision,
            kind="report",
            filename=filename,
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            created_at=rt.clock(),
        )
        session.add(doc)
        return doc


def report_document(rt: Runtime, code: str) -> DocumentFile:
    """The kept evaluation report (the latest), or one written now when none is kept."""
    with rt.db.sessions() as session:
        row = contract_row(session, code)
        kept = session.scalar(
            select(m.Document)
            .where(m.Document.contract_id == row.id, m.Document.kind == "report")
            .order_by(m.Document.id.desc())
            .limit(1)
        )
        if kept is not None:
            return DocumentFile(kept.filename, kept.content, kept.revision, stored=True)
        revision = row.current_revision
    filename, content = evaluation_report(rt, code)
    return DocumentFile(filename, content, revision, stored=False)
