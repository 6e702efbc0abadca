"""Revision comparison: term by term, items matched by id, side-by-side document."""

from __future__ import annotations

import io
from decimal import Decimal

from docx import Document

from engine.documents.compare import compare
from engine.documents.diffdoc import RevisionInfo, render_diff
from engine.documents.templates import load_company
from engine.domain.contract import Contract
from tests.unit.documents.support import TEMPLATES, example


def revised(contract: Contract) -> Contract:
    data = contract.model_dump(mode="json")
    data["payment_terms"]["net_days"] = 90
    data["payment_terms"]["installments"][1]["due"] = "2027-03-31"
    data["guarantees"] = []
    data["obligations"].insert(
        1,
        {
            "id": "OB-9",
            "party": "us",
            "kind": "document",
            "description": "Quality certificate",
            "due": "2027-01-15",
        },
    )
    data["obligations"][3]["amount"] = "1700000"
    data["amount"] = "2420000.00"
    return Contract.model_validate(data)


def test_identical_revisions_have_no_changes() -> None:
    contract = example("SC-2026-0042")
    assert compare(contract, contract) == []


def test_changes_are_listed_term_by_term_in_document_order() -> None:
    old = example("SC-2026-0042")
    changes = compare(old, revised(old))
    assert [(c.term, c.change, c.old_text, c.new_text) for c in changes] == [
        ("amount", "changed", "2,400,000.00", "2,420,000.00"),
        ("payment_terms.net_days", "changed", "60", "90"),
        ("payment_terms.installments[2].due", "changed", "2027-02-28", "2027-03-31"),
        (
            "guarantees[G-1]",
            "removed",
            "G-1; Bank guarantee / 银行保函; 240,000.00; Bank of Ningbo; 2028-01-31",
            "",
        ),
        ("obligations[OB-3].amount", "changed", "1,680,000.00", "1,700,000.00"),
        (
            "obligations[OB-9]",
            "added",
            "",
            "OB-9; Seller; Document / 单据; Quality certificate; 2027-01-15; Open / 待履行",
        ),
    ]
    amount = changes[0].as_dict()
    assert amount["from"] == Decimal("2400000.00") and amount["to"] == Decimal("2420000.00")
    assert changes[0].label == "Contract amount / 合同金额"
    assert changes[4].label == "Obligations OB-3: Amount / 金额"


def test_inserting_an_obligation_does_not_shift_the_others() -> None:
    old = example("SC-2026-0042")
    data = old.model_dump(mode="json")
    data["obligations"].insert(
        0, {"id": "OB-0", "party": "us", "kind": "other", "due": "2026-12-01"}
    )
    changes = compare(old, Contract.model_validate(data))
    assert [c.term for c in changes] == ["obligations[OB-0]"]


def test_the_diff_document_puts_old_and_new_side_by_side() -> None:
    old = example("SC-2026-0042")
    changes = compare(old, revised(old))
    content = render_diff(
        code="SC-2026-0042",
        title=old.title,
        old=RevisionInfo(1, "alice", "2027-01-04 09:00 UTC"),
        new=RevisionInfo(2, "alice", "2027-01-05 10:00 UTC"),
        changes=changes,
        company=load_company(TEMPLATES),
    )
    doc = Document(io.BytesIO(content))
    table = doc.tables[-1]
    header = [c.text for c in table.rows[0].cells]
    assert header == ["条款 Term", "变更 Change", "版本 1 Revision 1", "版本 2 Revision 2"]
    rows = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert [
        "Payment term (days after invoice) / 付款期限(开票后天数)",
        "修改 Changed",
        "60",
        "90",
    ] in rows
    assert len(rows) == len(changes)
    assert any("6 terms changed" in p.text for p in doc.paragraphs)
