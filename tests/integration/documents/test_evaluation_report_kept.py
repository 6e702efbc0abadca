"""Entering the evaluation stage keeps the evaluation report the stage's task points to."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from docx import Document as Docx
from sqlalchemy import select

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.store import models as m
from tests.integration.workflow.support import contract_file, prepare


def _reports(rt: Runtime, code: str) -> list[m.Document]:
    with rt.db.sessions() as s:
        return list(
            s.scalars(
                select(m.Document)
                .join(m.Contract, m.Contract.id == m.Document.contract_id)
                .where(m.Contract.code == code, m.Document.kind == "report")
            )
        )


def _open(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def test_reaching_evaluation_writes_the_report_once(rt: Runtime, tmp_path: Path) -> None:
    rt = prepare(rt)
    view = lifecycle.submit(rt, contract_file(tmp_path), "alice")
    view = lifecycle.act(rt, _open(view, "legal"), "approve", "lena")
    view = lifecycle.act(rt, _open(view, "finance"), "approve", "fei")
    view = lifecycle.act(rt, _open(view, "signer"), "approve", "sam")
    for oid in ("OB-1", "OB-2"):
        view = lifecycle.fulfil_obligation(rt, view.id, oid, "alice", on=dt.date(2027, 1, 3))
    assert _reports(rt, view.id) == []  # still in fulfilment: no report yet

    view = lifecycle.waive_obligation(rt, view.id, "OB-3", "alice", comment="paid in kind")
    assert view.stage == "evaluation"
    [report] = _reports(rt, view.id)
    doc = Docx(io.BytesIO(report.content))
    text = "\n".join(
        [p.text for p in doc.paragraphs]
        + [c.text for t in doc.tables for row in t.rows for c in row.cells]
    )
    assert "CONTRACT EVALUATION REPORT" in text and view.id in text and "OB-3" in text
    assert report.revision == view.revision

    lifecycle.act(rt, _open(view, "contract_admin"), "approve", "alice")
    assert len(_reports(rt, view.id)) == 1  # closing does not write another
