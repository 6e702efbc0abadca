"""The revision comparison as a .docx: every changed term with old and new side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.documents import docxkit as K
from engine.documents.compare import Change
from engine.documents.templates import Company

_KIND = {"changed": "修改 Changed", "added": "新增 Added", "removed": "删除 Removed"}


@dataclass(frozen=True)
class RevisionInfo:
    number: int
    submitted_by: str
    submitted_at: str  # already formatted
    source: str = ""


def render_diff(
    *,
    code: str,
    title: str,
    old: RevisionInfo,
    new: RevisionInfo,
    changes: Sequence[Change],
    company: Company,
) -> bytes:
    doc = K.new_document()
    K.letterhead(doc, company.name_zh, company.name_en, f"合同编号 Contract No. {code}")
    K.core_properties(
        doc,
        title=f"{code}: revision {old.number} -> {new.number}",
        subject=title,
        author=company.name_en,
    )
    K.paragraph(
        doc,
        "合同修订对照表",
        align="center",
        bold=True,
        size=18,
        color=K.ACCENT,
        space_before=4,
        space_after=0,
    )
    K.paragraph(
        doc,
        "CONTRACT REVISION COMPARISON",
        align="center",
        bold=True,
        size=10,
        color=K.GREY,
        space_after=8,
    )
    K.plain_table(
        doc,
        [
            [f"合同编号 Contract No.: {code}", f"合同标的 Subject: {title}"],
            [
                f"原版本 From: revision {old.number} — {old.submitted_by}, {old.submitted_at}",
                f"新版本 To: revision {new.number} — {new.submitted_by}, {new.submitted_at}",
            ],
        ],
        [8.3, 8.3],
    )
    count = len(changes)
    K.paragraph(
        doc,
        f"共 {count} 项条款变更 / {count} term{'s' if count != 1 else ''} changed"
        if count
        else "两个版本的条款完全一致 / The two revisions have identical terms",
        bold=True,
        space_before=8,
        space_after=4,
    )
    if changes:
        rows = [[c.label, _KIND[c.change], c.old_text or "—", c.new_text or "—"] for c in changes]
        highlight = [[False, False, c.change != "added", c.change != "removed"] for c in changes]
        K.data_table(
            doc,
            [
                "条款 Term",
                "变更 Change",
                f"版本 {old.number} Revision {old.number}",
                f"版本 {new.number} Revision {new.number}",
            ],
            rows,
            [4.8, 2.0, 4.9, 4.9],
            highlight=highlight,
        )
    K.paragraph(
        doc,
        "说明：黄色底纹为变更前后的取值；本对照表由系统根据各版本提交的条款自动生成。"
        " Note: shaded cells hold the values before and after the change; generated from the "
        "terms submitted with each revision.",
        size=8,
        color=K.GREY,
        space_before=8,
    )
    return K.to_bytes(doc)
