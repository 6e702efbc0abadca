"""A `Contract` -> a Word contract (.docx) a company would send.

Layout: letterhead and page numbers, bilingual title, contract number and signing place,
the two parties, a preamble, numbered articles (Chinese clause, English clause beneath),
the Key terms, payment schedule, guarantees and obligations tables, and a signature block.
The wording comes from a template (`templates.py`); the tables from `terms.py`, which
intake reads back, so render -> extract returns the same contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from engine.documents import docxkit as K
from engine.documents import labels as L
from engine.documents import terms as T
from engine.documents import words as W
from engine.documents.chinese_amount import capital_amount
from engine.documents.templates import Article, Company, ContractTemplate, render_text
from engine.domain.contract import Contract

WIDTH = 16.6  # cm of text on A4 with 2.2 cm margins


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _clause_values(contract: Contract, company: Company) -> dict[str, dict[str, Any]]:
    """Pre-formatted values for clause text, per language (names differ by language)."""
    terms = contract.payment_terms
    cap = contract.liability_cap_percent
    law_zh, law_en = W.law_names(contract.governing_law)
    common: dict[str, Any] = {
        "title": contract.title,
        "contract_no": contract.id or "",
        "currency": contract.currency,
        "currency_zh": W.CURRENCY_ZH.get(contract.currency, contract.currency + " "),
        "amount": L.money(contract.amount),
        "amount_words": capital_amount(contract.amount),
        "amount_words_en": W.amount_words(contract.currency, contract.amount),
        "start_zh": f"{contract.start_date.year}年{contract.start_date.month}月{contract.start_date.day}日",
        "end_zh": f"{contract.end_date.year}年{contract.end_date.month}月{contract.end_date.day}日",
        "start_en": f"{contract.start_date.day} {contract.start_date:%B} {contract.start_date.year}",
        "end_en": f"{contract.end_date.day} {contract.end_date:%B} {contract.end_date.year}",
        "prepayment": L.plain_number(terms.prepayment_percent),
        "prepayment_amount": L.money(contract.amount * terms.prepayment_percent / 100),
        "net_days": terms.net_days,
        "penalty": None
        if terms.late_penalty_percent_per_day is None
        else L.plain_number(terms.late_penalty_percent_per_day),
        "has_schedule": bool(terms.installments),
        "has_guarantees": bool(contract.guarantees),
        "has_obligations": bool(contract.obligations),
        "cap": None if cap is None else L.plain_number(cap),
        "cap_amount": "" if cap is None else L.money(contract.amount * cap / 100),
        "auto_renewal": contract.auto_renewal,
        "notice_days": contract.renewal_notice_days,
        "law_zh": law_zh,
        "law_en": law_en,
        "counterparty": contract.counterparty.name,
    }
    we_sell = contract.direction.value == "sell"
    them = contract.counterparty.name
    zh = {
        **common,
        "seller": company.name_zh if we_sell else them,
        "buyer": them if we_sell else company.name_zh,
    }
    en = {
        **common,
        "seller": company.name_en if we_sell else them,
        "buyer": them if we_sell else company.name_en,
    }
    return {"zh": zh, "en": en}


def key_term_rows(contract: Contract) -> list[tuple[str, str]]:
    data = contract.model_dump(mode="python")
    return [(t.label.text, T.show(t, _dig(data, t.key))) for t in T.KEY_TERMS if not t.internal]


def schedule_rows(contract: Contract) -> list[list[str]]:
    rows = []
    for i, inst in enumerate(contract.payment_terms.installments or [], start=1):
        share = (contract.amount * inst.percent / 100).quantize(Decimal("0.01"))
        rows.append(
            [
                str(i),
                inst.label or "",
                L.plain_number(inst.percent),
                inst.due.isoformat(),
                f"{contract.currency} {L.money(share)}",
            ]
        )
    return rows


def guarantee_rows(contract: Contract) -> list[list[str]]:
    return [
        [T.show(term, getattr(g, term.key)) for term in T.GUARANTEES] for g in contract.guarantees
    ]


def obligation_columns(contract: Contract) -> list[T.Term]:
    """Fulfilled-on and owner columns appear only when some obligation uses them."""
    obs = contract.obligations
    skip = set()
    if not any(o.fulfilled_on for o in obs):
        skip.add("fulfilled_on")
    if not any(o.owner for o in obs):
        skip.add("owner")
    return [t for t in T.OBLIGATIONS if t.key not in skip]


def obligation_rows(contract: Contract, columns: Sequence[T.Term]) -> list[list[str]]:
    direction = contract.direction.value
    rows = []
    for ob in contract.obligations:
        row = []
        for term in columns:
            value = getattr(ob, term.key)
            if term.kind == "party":
                row.append(L.party_label(value.value, direction).text)
            else:
                row.append(T.show(term, value))
        rows.append(row)
    return rows


_OB_WIDTHS = {
    "id": 1.3,
    "party": 1.9,
    "kind": 1.9,
    "due": 2.1,
    "amount": 2.4,
    "status": 2.0,
    "fulfilled_on": 2.1,
    "owner": 1.7,
}


def _headers(terms: Sequence[T.Term]) -> list[str]:
    return [t.label.text for t in terms]


def _table(doc: Any, kind: str, contract: Contract) -> None:
    if kind == "key_terms":
        rows = key_term_rows(contract)
        K.data_table(
            doc,
            [h.text for h in T.KEY_TERM_HEADER],
            [list(r) for r in rows],
            [7.8, WIDTH - 7.8],
            size=9,
        )
    elif kind == "schedule" and contract.payment_terms.installments:
        K.data_table(
            doc,
            _headers(T.SCHEDULE),
            schedule_rows(contract),
            [1.4, 5.2, 2.6, 3.2, 4.2],
            align=["center", "left", "right", "left", "right"],
        )
    elif kind == "guarantees" and contract.guarantees:
        K.data_table(
            doc,
            _headers(T.GUARANTEES),
            guarantee_rows(contract),
            [1.4, 4.6, 3.2, 4.4, 3.0],
            align=["left", "left", "right", "left", "left"],
        )
    elif kind == "obligations" and contract.obligations:
        columns = obligation_columns(contract)
        fixed = sum(_OB_WIDTHS[t.key] for t in columns if t.key in _OB_WIDTHS)
        widths = [_OB_WIDTHS.get(t.key, WIDTH - fixed) for t in columns]
        K.data_table(
            doc,
            _headers(columns),
            obligation_rows(contract, columns),
            widths,
            align=["right" if t.key == "amount" else "left" for t in columns],
            size=8.5,
        )
    else:
        return
    K.paragraph(doc, space_after=2)


def _article(doc: Any, number: int, article: Article, values: dict[str, dict[str, Any]]) -> None:
    head = K.paragraph(doc, space_before=9, space_after=3, keep_with_next=True)
    K.add_run(
        head, f"第{W.chinese_ordinal(number)}条  {article.heading_zh}", bold=True, color=K.ACCENT
    )
    K.add_run(
        head, f"    Article {number}  {article.heading_en}", bold=True, size=9.5, color=K.GREY
    )
    for clause in article.clauses:
        zh = render_text(clause.zh, values["zh"])
        en = render_text(clause.en, values["en"])
        if zh:
            K.paragraph(doc, zh, align="justify", space_after=1, keep_with_next=bool(en))
        if en:
            K.paragraph(doc, en, align="justify", size=9, color=K.GREY, space_after=5)


def _parties(doc: Any, contract: Contract, company: Company) -> None:
    we_sell = contract.direction.value == "sell"
    cp = contract.counterparty
    ours = [company.name_zh, company.name_en, company.address_zh, company.address_en]
    theirs = [cp.name]
    if cp.country:
        theirs.append(f"国别 Country: {W.country_label(cp.country)}")
    seller, buyer = (ours, theirs) if we_sell else (theirs, ours)
    cells = []
    for role, lines in ((L.DIRECTION["sell"], seller), (L.DIRECTION["buy"], buyer)):
        cell = [K.Line(f"{role.zh}（{role.en}）", bold=True, color=K.ACCENT)]
        cell += [
            K.Line(line, bold=i == 0, size=10 if i == 0 else 9)
            for i, line in enumerate(x for x in lines if x)
        ]
        cells.append(cell)
    K.plain_table(doc, [cells], [WIDTH / 2, WIDTH / 2])
    K.paragraph(doc, space_after=4)


def _signatures(doc: Any, contract: Contract, company: Company) -> None:
    we_sell = contract.direction.value == "sell"
    seller = company.name_zh if we_sell else contract.counterparty.name
    buyer = contract.counterparty.name if we_sell else company.name_zh
    K.paragraph(
        doc,
        "（以下无正文 / No further text below）",
        align="center",
        size=9,
        color=K.GREY,
        space_before=6,
        space_after=14,
    )

    def both(text: str, **fmt: Any) -> list[list[K.Line]]:
        return [[K.Line(text, size=10, **fmt)], [K.Line(text, size=10, **fmt)]]

    rows: list[list[Any]] = [
        [
            [K.Line("卖方（盖章）Seller (seal):", bold=True, size=10)],
            [K.Line("买方（盖章）Buyer (seal):", bold=True, size=10)],
        ],
        [[K.Line(seller, size=10, space_before=6)], [K.Line(buyer, size=10, space_before=6)]],
        both("授权代表 Authorised representative:", space_before=6),
        both("", space_before=6),
        both("签字 Signature: ____________________", space_before=6),
        both("日期 Date: ____________________", space_before=6),
    ]
    # keep the signature block together on one page
    K.plain_table(doc, rows, [WIDTH / 2, WIDTH / 2], keep_together=True)


def render_contract(
    contract: Contract,
    template: ContractTemplate,
    company: Company,
    *,
    revision: int | None = None,
) -> bytes:
    """The .docx bytes of `contract` laid out by `template` (deterministic for equal input)."""
    doc = K.new_document()
    values = _clause_values(contract, company)
    number = contract.id or "（待分配 to be assigned）"
    K.letterhead(doc, company.name_zh, company.name_en, f"合同编号 Contract No. {number}")
    K.core_properties(
        doc,
        title=f"{template.title_en} {contract.id or ''}".strip(),
        subject=contract.title,
        author=company.name_en,
    )
    K.paragraph(
        doc,
        template.title_zh,
        align="center",
        bold=True,
        size=22,
        color=K.ACCENT,
        space_before=6,
        space_after=0,
    )
    K.paragraph(
        doc, template.title_en, align="center", bold=True, size=11, color=K.GREY, space_after=10
    )
    meta = [
        [
            f"合同编号 Contract No.: {number}",
            f"签订地点 Place of signing: "
            f"{company.signing_place_zh} {company.signing_place_en}".rstrip(),
        ],
        [
            f"版本 Revision: {revision}" if revision else "版本 Revision: 草稿 draft",
            "签订日期 Date of signing: ____________",
        ],
    ]
    K.plain_table(doc, meta, [WIDTH / 2, WIDTH / 2])
    K.paragraph(doc, space_after=6, rule=(K.BORDER, 4))
    _parties(doc, contract, company)
    for clause in template.preamble:
        zh = render_text(clause.zh, values["zh"])
        en = render_text(clause.en, values["en"])
        if zh:
            K.paragraph(doc, zh, align="justify", space_after=1, keep_with_next=bool(en))
        if en:
            K.paragraph(doc, en, align="justify", size=9, color=K.GREY, space_after=4)
    for number_, article in enumerate(template.articles, start=1):
        _article(doc, number_, article, values)
        if article.table:
            _table(doc, article.table, contract)
    _signatures(doc, contract, company)
    return K.to_bytes(doc)
