"""Evaluation report: on time vs late with days late, payments, flags, approvals, comments."""

from __future__ import annotations

import datetime as dt
import io

from docx import Document

from engine.documents.report import (
    ApprovalRecord,
    CommentRecord,
    EvaluationInput,
    FlagHistory,
    duration_text,
    grade,
    obligation_outcomes,
    render_report,
)
from engine.documents.templates import load_company
from engine.domain.contract import Contract
from tests.unit.documents.support import TEMPLATES, example

UTC = dt.UTC


def fulfilled(contract: Contract, **on: str) -> Contract:
    data = contract.model_dump(mode="json")
    for ob in data["obligations"]:
        if ob["id"] in on:
            ob["status"], ob["fulfilled_on"] = "fulfilled", on[ob["id"]]
    return Contract.model_validate(data)


def test_outcomes_tell_on_time_from_late_and_count_days() -> None:
    contract = fulfilled(example("SC-2026-0042"), **{"OB-1": "2026-12-05", "OB-2": "2027-02-10"})
    outcomes = {o.id: o for o in obligation_outcomes(contract, dt.date(2027, 3, 10))}
    assert (outcomes["OB-1"].outcome, outcomes["OB-1"].days_late) == ("on_time", 0)
    assert (outcomes["OB-2"].outcome, outcomes["OB-2"].days_late) == ("late", 10)
    assert (outcomes["OB-3"].outcome, outcomes["OB-3"].days_late) == ("overdue", 10)
    early = {o.id: o for o in obligation_outcomes(contract, dt.date(2027, 2, 1))}
    assert early["OB-3"].outcome == "pending"


def test_grade_follows_on_time_rate_overdue_and_risk() -> None:
    good = fulfilled(
        example("SC-2026-0042"),
        **{"OB-1": "2026-12-05", "OB-2": "2027-01-30", "OB-3": "2027-02-28"},
    )
    assert grade(obligation_outcomes(good, dt.date(2027, 6, 1)), "low").en == "Good"
    assert grade(obligation_outcomes(good, dt.date(2027, 6, 1)), "high").en == "Fair"
    open_ = example("SC-2026-0042")
    assert grade(obligation_outcomes(open_, dt.date(2027, 9, 1)), "none").en == "Needs attention"


def test_duration_text_is_readable() -> None:
    assert duration_text(dt.timedelta(days=2, hours=3, minutes=5)) == "2 d 3 h"
    assert duration_text(dt.timedelta(hours=4, minutes=12)) == "4 h 12 min"
    assert duration_text(None) == "—"


def test_report_states_obligations_payments_flags_approvals_and_comments() -> None:
    contract = fulfilled(example("SC-2026-0042"), **{"OB-1": "2026-12-05", "OB-2": "2027-02-10"})
    opened = dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    data = EvaluationInput(
        code="SC-2026-0042",
        contract=contract,
        stage="evaluation",
        status="active",
        workflow="standard v1",
        owner="alice",
        revisions=2,
        max_severity="medium",
        as_of=dt.date(2027, 3, 10),
        generated_at=dt.datetime(2027, 3, 10, 8, 0, tzinfo=UTC),
        flags=[
            FlagHistory(
                "obligation_overdue",
                "obligations",
                "high",
                "OB-3 is 20 days overdue",
                "OB-3",
                dt.date(2027, 3, 1),
                dt.date(2027, 3, 10),
                10,
                True,
            ),
        ],
        approvals=[
            ApprovalRecord(
                "legal_review",
                "legal",
                "bob",
                "approved",
                opened,
                opened + dt.timedelta(days=1, hours=2),
                2,
                "fine",
            ),
        ],
        comments=[
            CommentRecord(
                opened + dt.timedelta(hours=3),
                "bob",
                "request_changes",
                "legal_review",
                "Add a penalty clause",
            ),
        ],
    )
    content = render_report(data, load_company(TEMPLATES))
    doc = Document(io.BytesIO(content))
    cells = [[c.text for c in row.cells] for t in doc.tables for row in t.rows]
    flat = "\n".join(" | ".join(r) for r in cells)
    assert ["按期完成 Met on time", "1"] in cells
    assert ["逾期完成 Met late", "1 (max 10 days late / 最长逾期10天)"] in cells
    assert ["逾期未完成 Overdue and open", "1"] in cells
    assert "逾期完成 Late / 逾期完成 (10 d / 10天)" not in flat  # outcome label is not doubled
    assert "Late / 逾期完成 (10 d / 10天)" in flat  # OB-2 delivered 10 days late
    assert "Overdue / 逾期未完成 (10 d / 10天)" in flat  # OB-3 unpaid for 10 days
    assert (
        "Receivable / 应收 | CNY 2,400,000.00 | CNY 720,000.00 | CNY 1,680,000.00 | CNY 1,680,000.00"
        in flat
    )
    assert "OB-3 is 20 days overdue [OB-3]" in flat
    assert "legal_review (r2) | legal | bob | approved | 2026-11-20 09:00 UTC | 1 d 2 h" in flat
    assert "Add a penalty clause" in flat
    assert "合同履行评估报告" in "\n".join(p.text for p in doc.paragraphs)
