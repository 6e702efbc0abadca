"""The evaluation report (.docx) written at the contract's evaluation stage.

It answers the questions the evaluation stage asks (合同履行评估): were obligations met on
time, how late were the late ones, did the money arrive, which risks showed up over the
contract's life, how long did approvals take and what did reviewers say. Services gather
the facts into `EvaluationInput`; this module only computes outcomes and lays them out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.documents import docxkit as K
from engine.documents import labels as L
from engine.documents.templates import Company
from engine.domain.contract import Contract

WIDTH = 16.6


@dataclass(frozen=True)
class ObligationOutcome:
    id: str
    party: str
    kind: str
    description: str
    due: dt.date
    amount: Decimal | None
    status: str
    fulfilled_on: dt.date | None
    days_late: int | None
    outcome: str  # on_time | late | waived | overdue | pending
    is_payment: bool
    incoming: bool  # a payment the counterparty makes to us


@dataclass(frozen=True)
class FlagHistory:
    rule: str
    category: str
    severity: str  # the highest it reached
    message: str  # as last evaluated
    subject: str | None
    first_seen: dt.date
    last_seen: dt.date
    evaluations: int
    current: bool


@dataclass(frozen=True)
class ApprovalRecord:
    stage: str
    role: str
    decided_by: str
    status: str
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    revision: int
    comment: str | None = None

    @property
    def duration(self) -> dt.timedelta | None:
        if self.opened_at is None or self.closed_at is None:
            return None
        return self.closed_at - self.opened_at


@dataclass(frozen=True)
class CommentRecord:
    at: dt.datetime
    who: str
    action: str
    stage: str
    comment: str


@dataclass(frozen=True)
class EvaluationInput:
    code: str
    contract: Contract
    stage: str
    status: str
    workflow: str
    owner: str
    revisions: int
    max_severity: str
    as_of: dt.date
    generated_at: dt.datetime
    flags: list[FlagHistory] = field(default_factory=list)
    approvals: list[ApprovalRecord] = field(default_factory=list)
    comments: list[CommentRecord] = field(default_factory=list)


SEVERITY_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
SEVERITY_ZH = {"low": "低", "medium": "中", "high": "高", "critical": "严重", "none": "无"}
OUTCOME = {
    "on_time": L.Label("On time", "按期"),
    "late": L.Label("Late", "逾期完成"),
    "waived": L.Label("Waived", "已豁免"),
    "overdue": L.Label("Overdue", "逾期未完成"),
    "pending": L.Label("Not yet due", "未到期"),
}


def obligation_outcomes(contract: Contract, as_of: dt.date) -> list[ObligationOutcome]:
    """Each obligation judged as of a date: on time, late (days), waived, overdue, pending."""
    out = []
    direction = contract.direction.value
    for ob in contract.obligations:
        status = ob.status.value
        days: int | None = None
        if status == "fulfilled" and ob.fulfilled_on is not None:
            days = max(0, (ob.fulfilled_on - ob.due).days)
            outcome = "on_time" if days == 0 else "late"
        elif status == "waived":
            outcome = "waived"
        elif ob.due < as_of:
            days = (as_of - ob.due).days
            outcome = "overdue"
        else:
            outcome = "pending"
        out.append(
            ObligationOutcome(
                id=ob.id,
                party=L.party_label(ob.party.value, direction).text,
                kind=L.OBLIGATION_KIND[ob.kind.value].text,
                description=ob.description,
                due=ob.due,
                amount=ob.amount,
                status=status,
                fulfilled_on=ob.fulfilled_on,
                days_late=days,
                outcome=outcome,
                is_payment=ob.kind.value == "payment",
                incoming=ob.party.value == "counterparty",
            )
        )
    return out


def grade(outcomes: Sequence[ObligationOutcome], max_severity: str) -> L.Label:
    """Overall assessment: Good (all met on time, no high risk), Fair, or Needs attention."""
    judged = [o for o in outcomes if o.outcome in {"on_time", "late", "overdue"}]
    on_time = sum(1 for o in judged if o.outcome == "on_time")
    rate = on_time / len(judged) if judged else 1.0
    overdue = any(o.outcome == "overdue" for o in outcomes)
    high = SEVERITY_RANK.get(max_severity, 0) >= SEVERITY_RANK["high"]
    if rate >= 0.9 and not overdue and not high:
        return L.Label("Good", "良好")
    if rate >= 0.7 and not any(
        o.outcome == "overdue" and (o.days_late or 0) > 60 for o in outcomes
    ):
        return L.Label("Fair", "一般")
    return L.Label("Needs attention", "需关注")


def duration_text(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "—"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def _stamp(value: dt.datetime | None) -> str:
    return "—" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _heading(doc: Any, number: int, zh: str, en: str) -> None:
    para = K.paragraph(doc, space_before=10, space_after=4, keep_with_next=True, rule=(K.BORDER, 4))
    K.add_run(para, f"{number}. {zh}", bold=True, color=K.ACCENT, size=12)
    K.add_run(para, f"    {en}", bold=True, color=K.GREY, size=10)


def _money(value: Decimal | None, currency: str) -> str:
    return "—" if value is None else f"{currency} {L.money(value)}"


def _summary_rows(data: EvaluationInput, outcomes: Sequence[ObligationOutcome]) -> list[list[str]]:
    count = {k: sum(1 for o in outcomes if o.outcome == k) for k in OUTCOME}
    late = [o.days_late or 0 for o in outcomes if o.outcome == "late"]
    judged = count["on_time"] + count["late"] + count["overdue"]
    rate = f"{100 * count['on_time'] / judged:.0f}%" if judged else "—"
    durations = [a.duration for a in data.approvals if a.duration is not None]
    avg = duration_text(sum(durations, dt.timedelta()) / len(durations)) if durations else "—"
    peak = max(
        (f.severity for f in data.flags), key=lambda s: SEVERITY_RANK.get(s, 0), default="none"
    )
    return [
        ["履约评价 Overall assessment", grade(outcomes, data.max_severity).text],
        ["义务总数 Obligations", str(len(outcomes))],
        ["按期完成 Met on time", str(count["on_time"])],
        [
            "逾期完成 Met late",
            f"{count['late']}"
            + (f" (max {max(late)} days late / 最长逾期{max(late)}天)" if late else ""),
        ],
        ["逾期未完成 Overdue and open", str(count["overdue"])],
        ["未到期 Not yet due", str(count["pending"])],
        ["已豁免 Waived", str(count["waived"])],
        ["按期履约率 On-time rate", rate],
        [
            "当前风险等级 Current risk",
            f"{data.max_severity} / {SEVERITY_ZH.get(data.max_severity, '')}",
        ],
        ["期间最高风险 Highest risk over the life", f"{peak} / {SEVERITY_ZH.get(peak, '')}"],
        ["审批任务 Approval tasks", str(len(data.approvals))],
        ["平均审批时长 Average approval time", avg],
        ["修订次数 Revisions", str(data.revisions)],
    ]


def _payments(doc: Any, data: EvaluationInput, outcomes: Sequence[ObligationOutcome]) -> None:
    currency = data.contract.currency
    payments = [o for o in outcomes if o.is_payment]
    if not payments:
        K.paragraph(doc, "本合同未列明付款义务。/ The contract lists no payment obligations.")
        return
    totals = []
    for label, incoming in (
        (L.Label("Receivable", "应收"), True),
        (L.Label("Payable", "应付"), False),
    ):
        group = [p for p in payments if p.incoming == incoming]
        if not group:
            continue
        scheduled = sum((p.amount or Decimal(0) for p in group), Decimal(0))
        settled = sum(
            (p.amount or Decimal(0) for p in group if p.status == "fulfilled"), Decimal(0)
        )
        overdue = sum((p.amount or Decimal(0) for p in group if p.outcome == "overdue"), Decimal(0))
        totals.append(
            [
                label.text,
                _money(scheduled, currency),
                _money(settled, currency),
                _money(scheduled - settled, currency),
                _money(overdue, currency),
            ]
        )
    K.data_table(
        doc,
        [
            "方向 Direction",
            "计划 Scheduled",
            "已结清 Settled",
            "未结清 Outstanding",
            "逾期 Overdue",
        ],
        totals,
        [3.0, 3.4, 3.4, 3.4, 3.4],
        align=["left", "right", "right", "right", "right"],
    )
    K.paragraph(doc, space_after=2)
    K.data_table(
        doc,
        ["编号 Ref.", "付款方 Payer", "金额 Amount", "到期 Due", "付款日 Paid on", "结果 Outcome"],
        [
            [
                p.id,
                p.party,
                _money(p.amount, currency),
                p.due.isoformat(),
                p.fulfilled_on.isoformat() if p.fulfilled_on else "—",
                _outcome_text(p),
            ]
            for p in payments
        ],
        [1.5, 2.6, 3.4, 2.4, 2.4, 4.3],
        align=["left", "left", "right", "left", "left", "left"],
    )


def _outcome_text(o: ObligationOutcome) -> str:
    text = OUTCOME[o.outcome].text
    if o.outcome in {"late", "overdue"} and o.days_late:
        text += f" ({o.days_late} d / {o.days_late}天)"
    return text


def render_report(data: EvaluationInput, company: Company) -> bytes:
    contract = data.contract
    outcomes = obligation_outcomes(contract, data.as_of)
    doc = K.new_document()
    K.letterhead(doc, company.name_zh, company.name_en, f"合同编号 Contract No. {data.code}")
    K.core_properties(
        doc, title=f"Evaluation report {data.code}", subject=contract.title, author=company.name_en
    )
    K.paragraph(
        doc,
        "合同履行评估报告",
        align="center",
        bold=True,
        size=20,
        color=K.ACCENT,
        space_before=4,
        space_after=0,
    )
    K.paragraph(
        doc,
        "CONTRACT EVALUATION REPORT",
        align="center",
        bold=True,
        size=10,
        color=K.GREY,
        space_after=8,
    )
    cp = contract.counterparty
    K.data_table(
        doc,
        ["项目 Item", "内容 Details"],
        [
            ["合同编号 Contract No.", data.code],
            ["合同标的 Subject", contract.title],
            ["合同相对方 Counterparty", cp.name + (f" ({cp.country})" if cp.country else "")],
            ["我方角色 Our role", L.DIRECTION[contract.direction.value].text],
            ["合同金额 Amount", _money(contract.amount, contract.currency)],
            [
                "合同期限 Term",
                f"{contract.start_date.isoformat()} — {contract.end_date.isoformat()}",
            ],
            ["合同管理人 Administrator", data.owner],
            ["流程 Workflow / 阶段 Stage", f"{data.workflow} / {data.stage} ({data.status})"],
            ["评估基准日 Evaluated as of", data.as_of.isoformat()],
        ],
        [5.6, WIDTH - 5.6],
    )
    _heading(doc, 1, "评估结论", "Summary")
    K.data_table(
        doc, ["指标 Measure", "结果 Result"], _summary_rows(data, outcomes), [7.0, WIDTH - 7.0]
    )

    _heading(doc, 2, "履约义务", "Obligations: met on time or late")
    if outcomes:
        K.data_table(
            doc,
            [
                "编号 Ref.",
                "履约方 Obligor",
                "内容 Description",
                "到期 Due",
                "完成 Done",
                "结果 Outcome",
            ],
            [
                [
                    o.id,
                    o.party,
                    o.description or o.kind,
                    o.due.isoformat(),
                    o.fulfilled_on.isoformat() if o.fulfilled_on else "—",
                    _outcome_text(o),
                ]
                for o in outcomes
            ],
            [1.4, 2.3, 5.3, 2.2, 2.2, 3.2],
            size=8.5,
        )
    else:
        K.paragraph(doc, "本合同未列明履约义务。/ The contract lists no obligations.")

    _heading(doc, 3, "款项收付", "Payments")
    _payments(doc, data, outcomes)

    _heading(doc, 4, "风险提示记录", "Risk flags over the contract's life")
    if data.flags:
        K.data_table(
            doc,
            [
                "等级 Severity",
                "类别 Category",
                "提示 Flag",
                "首次 First seen",
                "最近 Last seen",
                "状态 Now",
            ],
            [
                [
                    f"{f.severity} / {SEVERITY_ZH.get(f.severity, '')}",
                    f.category,
                    f.message + (f" [{f.subject}]" if f.subject else ""),
                    f.first_seen.isoformat(),
                    f.last_seen.isoformat(),
                    "仍存在 Open" if f.current else "已消除 Cleared",
                ]
                for f in data.flags
            ],
            [2.2, 2.2, 6.0, 2.1, 2.1, 2.0],
            size=8.5,
        )
    else:
        K.paragraph(
            doc, "合同存续期间未发现风险提示。/ No risk flags were raised over the contract's life."
        )

    _heading(doc, 5, "审批记录", "Approvals and their durations")
    if data.approvals:
        K.data_table(
            doc,
            ["阶段 Stage", "角色 Role", "处理人 By", "结果 Decision", "开始 Opened", "用时 Took"],
            [
                [
                    f"{a.stage} (r{a.revision})",
                    a.role,
                    a.decided_by or "—",
                    a.status,
                    _stamp(a.opened_at),
                    duration_text(a.duration),
                ]
                for a in data.approvals
            ],
            [3.2, 2.6, 2.4, 2.6, 3.4, 2.4],
            size=8.5,
        )
    else:
        K.paragraph(doc, "无审批任务记录。/ No approval tasks were recorded.")

    _heading(doc, 6, "审核意见", "Reviewer comments")
    if data.comments:
        K.data_table(
            doc,
            ["时间 When", "审核人 Reviewer", "动作 Action", "意见 Comment"],
            [[_stamp(c.at), c.who, f"{c.action} ({c.stage})", c.comment] for c in data.comments],
            [3.4, 2.4, 3.2, 7.6],
            size=8.5,
        )
    else:
        K.paragraph(doc, "无审核意见。/ Reviewers left no comments.")

    K.paragraph(doc, space_after=10)
    K.plain_table(
        doc,
        [
            ["评估人 Evaluated by: ____________________", "日期 Date: ____________________"],
            ["部门负责人 Head of department: ____________", "日期 Date: ____________________"],
        ],
        [WIDTH / 2, WIDTH / 2],
    )
    K.paragraph(
        doc,
        f"本报告由系统于 {_stamp(data.generated_at)} 生成。/ Generated by contractflow at "
        f"{_stamp(data.generated_at)}.",
        size=8,
        color=K.GREY,
        space_before=10,
    )
    return K.to_bytes(doc)
