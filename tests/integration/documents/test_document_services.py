"""Documents with the database: the kept document of every revision, .docx drafts submitted
directly, bad uploads storing nothing, revision comparison, the evaluation report."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import func, select

from engine.documents.intake import extract_contract
from engine.domain.contract import Contract
from engine.errors import InvalidInput, NotFound
from engine.services import documents as docs
from engine.services import lifecycle
from engine.services.evaluation_report import (
    evaluation_report,
    report_document,
    store_evaluation_report,
)
from engine.services.runtime import Runtime
from engine.services.views import show
from engine.store import models as m
from tests.integration.workflow.support import contract_file, prepare
from tests.unit.documents.support import example, render, sent_out


@pytest.fixture
def drt(rt: Runtime) -> Runtime:
    return prepare(rt)


def _count(rt: Runtime, model: type) -> int:
    with rt.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _task(rt: Runtime, code: str, role: str) -> int:
    view = show(rt, code)
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def _revise_to_two(rt: Runtime, tmp_path: Path) -> str:
    lifecycle.submit(rt, contract_file(tmp_path), "alice")
    lifecycle.act(
        rt,
        _task(rt, "SC-2026-0042", "legal"),
        "request_changes",
        "lena",
        comment="Net days too long; add a quality certificate",
    )
    terms = example("SC-2026-0042").model_dump(mode="json")
    terms["payment_terms"]["net_days"] = 45
    terms["obligations"].append(
        {
            "id": "OB-4",
            "party": "us",
            "kind": "document",
            "description": "Quality certificate",
            "due": "2027-02-10",
        }
    )
    second = tmp_path / "second.docx"
    second.write_bytes(render(Contract.model_validate(terms)))
    lifecycle.revise(rt, "SC-2026-0042", second, "alice")
    return "SC-2026-0042"


def test_every_submitted_revision_keeps_its_document(drt: Runtime, tmp_path: Path) -> None:
    code = _revise_to_two(drt, tmp_path)
    with drt.db.sessions() as session:
        kept = session.execute(
            select(m.Document.revision, m.Document.kind, m.Document.filename).order_by(
                m.Document.id
            )
        ).all()
    assert [tuple(k) for k in kept] == [
        (1, "contract", "SC-2026-0042-r1.docx"),
        (2, "contract", "SC-2026-0042-r2.docx"),
    ]
    first = docs.contract_document(drt, code, revision=1)
    assert first.stored and first.filename == "SC-2026-0042-r1.docx"
    assert extract_contract(first.content, "r1.docx").payment_terms.net_days == 60
    current = docs.contract_document(drt, code)
    assert current.revision == 2
    assert extract_contract(current.content, "r2.docx").payment_terms.net_days == 45
    # Another template is a fresh rendering of the same terms, not the kept file.
    purchase = docs.contract_document(drt, code, revision=1, template="purchase")
    assert not purchase.stored
    assert any("采购合同" in p.text for p in Document(io.BytesIO(purchase.content)).paragraphs)
    with pytest.raises(NotFound, match="has no revision 3"):
        docs.contract_document(drt, code, revision=3)


def test_a_docx_draft_is_submitted_directly(drt: Runtime, tmp_path: Path) -> None:
    draft = tmp_path / "draft.docx"
    draft.write_bytes(render(example("PO-2026-0107")))
    view = lifecycle.submit(drt, draft, "alice")
    assert view.id == "PO-2026-0107"
    with drt.db.sessions() as session:
        terms = session.scalar(select(m.ContractRevision.terms))
        source = session.scalar(select(m.ContractRevision.source_name))
    assert Contract.model_validate(terms) == sent_out(example("PO-2026-0107"))
    assert source == "draft.docx"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a word file", "not a .docx file"),
        (b"PK\x03\x04broken", "corrupt .docx archive"),
    ],
)
def test_a_bad_upload_is_refused_and_nothing_is_stored(
    drt: Runtime, tmp_path: Path, content: bytes, message: str
) -> None:
    draft = tmp_path / "draft.docx"
    draft.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        lifecycle.submit(drt, draft, "alice")
    assert _count(drt, m.Contract) == 0
    assert _count(drt, m.Document) == 0
    assert _count(drt, m.ContractRevision) == 0


def test_revisions_compare_term_by_term(drt: Runtime, tmp_path: Path) -> None:
    code = _revise_to_two(drt, tmp_path)
    diff = docs.compare_revisions(drt, code, 1, 2)
    assert [(c.term, c.change) for c in diff.changes] == [
        ("payment_terms.net_days", "changed"),
        ("obligations[OB-4]", "added"),
    ]
    assert diff.old_meta["submitted_by"] == "alice"
    doc = Document(io.BytesIO(docs.diff_document(drt, diff)))
    rows = [[c.text for c in r.cells] for r in doc.tables[-1].rows]
    assert rows[1][2:] == ["60", "45"]


def test_evaluation_report_from_the_contracts_history(drt: Runtime, tmp_path: Path) -> None:
    code = _revise_to_two(drt, tmp_path)
    drt.clock.now += dt.timedelta(hours=5)  # type: ignore[attr-defined]
    lifecycle.act(drt, _task(drt, code, "legal"), "approve", "lars", comment="Terms are fine now")
    drt.clock.now += dt.timedelta(hours=2)  # type: ignore[attr-defined]
    lifecycle.act(drt, _task(drt, code, "finance"), "approve", "fei")
    lifecycle.act(drt, _task(drt, code, "signer"), "approve", "sam")
    drt.clock.now = dt.datetime(2027, 3, 10, 9, tzinfo=dt.UTC)  # type: ignore[attr-defined]
    lifecycle.fulfil_obligation(drt, code, "OB-1", "alice", on=dt.date(2026, 12, 5))
    lifecycle.fulfil_obligation(drt, code, "OB-2", "alice", on=dt.date(2027, 2, 3))
    name, content = evaluation_report(drt, code, as_of=dt.date(2027, 3, 10))
    assert name == "SC-2026-0042-evaluation.docx"
    doc = Document(io.BytesIO(content))
    flat = "\n".join(" | ".join(c.text for c in r.cells) for t in doc.tables for r in t.rows)
    assert (
        "OB-1 | Buyer / 买方 | Advance payment of 30% | 2026-12-05 | 2026-12-05 | On time / 按期"
        in flat
    )
    assert "Late / 逾期完成 (3 d / 3天)" in flat  # OB-2 delivered 3 days late
    assert "Overdue / 逾期未完成 (10 d / 10天)" in flat  # OB-3 balance unpaid
    assert "legal_review (r2) | legal | lars | approved" in flat
    assert "5 h 0 min" in flat  # how long legal took on revision 2
    assert "Net days too long; add a quality certificate" in flat
    assert "Terms are fine now" in flat
    assert not report_document(drt, code).stored  # none kept yet: written on demand
    stored = store_evaluation_report(drt, code, as_of=dt.date(2027, 3, 10))
    kept = report_document(drt, code)
    assert kept.stored and kept.content == content
    assert stored.kind == "report"
    assert [d["kind"] for d in docs.list_documents(drt, code)] == ["contract", "contract", "report"]


def test_a_revision_from_the_sent_document_keeps_our_internal_terms(
    drt: Runtime, tmp_path: Path
) -> None:
    """The document omits our credit rating and administrator; revising from it must not
    erase them (the rating drives the risk rules)."""
    lifecycle.submit(drt, contract_file(tmp_path), "alice")
    lifecycle.act(drt, _task(drt, "SC-2026-0042", "legal"), "request_changes", "lena", "net 45")
    sent = docs.contract_document(drt, "SC-2026-0042")
    changed = extract_contract(sent.content, "sent.docx")
    assert changed.counterparty.credit_rating is None and changed.owner is None
    draft = tmp_path / "edited.docx"
    draft.write_bytes(render(changed.model_copy(update={"title": "Supply of 42 pumps"})))
    view = lifecycle.revise(drt, "SC-2026-0042", draft, "alice")
    assert view.terms["counterparty"]["credit_rating"] == "BBB"
    assert view.terms["owner"] == "alice"
    assert [c.field for c in view.revisions[-1].changes] == ["title"]
