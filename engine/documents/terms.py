"""The tables a contract document carries and intake reads back, declared once.

Each Key terms row and each table column names its contract field, its bilingual label
and its value kind; `render` writes cells with `show`, `intake` reads them with `read`.
Declaring the vocabulary once keeps the two directions from drifting apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.documents import labels as L
from engine.documents import words as W
from engine.documents.labels import Label

Reader = Callable[[str], tuple[Any, str | None]]  # cell -> (value, problem)


@dataclass(frozen=True)
class Term:
    """One field in a table: where it goes in the contract data and how its cell reads."""

    key: str  # dotted path in the contract data (Key terms) or item key (tables)
    label: Label
    kind: str  # text | opt_text | money | percent | opt_percent | int | opt_int | date
    #          | opt_date | bool | enum | opt_enum | party | law | country (optional, a code
    #          shown as its names, read back to the code)
    required: bool = False
    choices: Mapping[str, Label] | None = None
    none_word: Label = L.NONE_WORD
    #: Our own data about the deal (our credit rating of them, our administrator): read
    #: from a Word draft that carries it, never printed on the counterparty's contract.
    internal: bool = False


KEY_TERMS: tuple[Term, ...] = (
    Term("id", Label("Contract No.", "合同编号"), "opt_text"),
    Term("title", Label("Subject", "合同标的"), "text", required=True),
    Term("direction", Label("Our role", "我方角色"), "enum", True, L.DIRECTION),
    Term("counterparty.name", Label("Counterparty", "合同相对方"), "text", required=True),
    Term("counterparty.country", Label("Counterparty country", "相对方国别"), "country"),
    Term(
        "counterparty.credit_rating",
        Label("Counterparty credit rating", "相对方信用等级"),
        "opt_text",
        internal=True,
    ),
    Term("currency", Label("Currency", "币种"), "text", required=True),
    Term("amount", Label("Contract amount", "合同金额"), "money", required=True),
    Term("start_date", Label("Start date", "生效日期"), "date", required=True),
    Term("end_date", Label("End date", "终止日期"), "date", required=True),
    Term("owner", Label("Contract administrator", "合同管理人"), "opt_text", internal=True),
    Term("payment_terms.prepayment_percent", Label("Prepayment (%)", "预付款比例(%)"), "percent"),
    Term(
        "payment_terms.net_days",
        Label("Payment term (days after invoice)", "付款期限(开票后天数)"),
        "int",
    ),
    Term(
        "payment_terms.late_penalty_percent_per_day",
        Label("Late-payment penalty (% per day)", "逾期付款违约金(每日%)"),
        "opt_percent",
    ),
    Term(
        "liability_cap_percent",
        Label("Liability cap (% of amount)", "责任限额(合同金额%)"),
        "opt_percent",
        none_word=L.UNCAPPED,
    ),
    Term("auto_renewal", Label("Automatic renewal", "自动续约"), "bool"),
    Term("renewal_notice_days", Label("Renewal notice (days)", "续约通知期(天)"), "opt_int"),
    Term("governing_law", Label("Governing law", "适用法律"), "law"),
)

SCHEDULE: tuple[Term, ...] = (
    Term("no", Label("No.", "序号"), "opt_text"),
    Term("label", Label("Instalment", "付款节点"), "opt_text"),
    Term("percent", Label("Percent (%)", "比例(%)"), "percent", required=True),
    Term("due", Label("Due date", "付款日期"), "date", required=True),
    Term("amount", Label("Amount", "金额"), "opt_text"),  # derived: shown, not read
)

GUARANTEES: tuple[Term, ...] = (
    Term("id", Label("Ref.", "编号"), "opt_text"),
    Term("kind", Label("Type", "担保类型"), "enum", True, L.GUARANTEE_KIND),
    Term("amount", Label("Amount", "担保金额"), "money", required=True),
    Term("issuer", Label("Issuer", "出具人"), "opt_text"),
    Term("expires_on", Label("Expires on", "有效期至"), "opt_date"),
)

OBLIGATIONS: tuple[Term, ...] = (
    Term("id", Label("Ref.", "编号"), "text", required=True),
    Term("party", Label("Obligor", "履约方"), "party", required=True),
    Term("kind", Label("Type", "类型"), "enum", True, L.OBLIGATION_KIND),
    Term("description", Label("Description", "内容"), "opt_text"),
    Term("due", Label("Due date", "期限"), "date", required=True),
    Term("amount", Label("Amount", "金额"), "opt_money"),
    Term("status", Label("Status", "状态"), "opt_enum", False, L.OBLIGATION_STATUS),
    Term("fulfilled_on", Label("Fulfilled on", "履行日期"), "opt_date"),
    Term("owner", Label("Owner", "负责人"), "opt_text"),
)

#: How intake recognises each table: header cells it must find (besides optional ones).
TABLE_SIGNATURES: dict[str, tuple[Term, ...]] = {
    "key_terms": (),
    "schedule": SCHEDULE,
    "guarantees": GUARANTEES,
    "obligations": OBLIGATIONS,
}
TABLE_NAMES = {
    "key_terms": "Key terms",
    "schedule": "Payment schedule",
    "guarantees": "Guarantees",
    "obligations": "Obligations",
}
KEY_TERM_HEADER = (Label("Key term", "合同要素"), Label("Value", "内容"))


def show(term: Term, value: Any) -> str:
    """The canonical cell text for a value (intake reads every form this writes)."""
    if value is None:
        if term.kind in {"opt_percent", "opt_int", "opt_enum"}:
            return term.none_word.text
        return ""
    if term.kind in {"money", "opt_money"}:
        return L.money(Decimal(value))
    if term.kind in {"percent", "opt_percent"}:
        return L.plain_number(Decimal(value))
    if term.kind == "bool":
        return L.YES_NO[bool(value)].text
    if term.kind == "law":
        return W.law_label(str(value))
    if term.kind == "country":
        return W.country_label(str(value))
    if term.kind in {"enum", "opt_enum"} and term.choices is not None:
        code = getattr(value, "value", value)
        return term.choices[code].text if code in term.choices else str(code)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(getattr(value, "value", value))


def read(term: Term, cell: str, direction: str | None = None) -> tuple[Any, str | None]:
    """(value, None) or (None, problem). A blank optional cell reads as None (not set)."""
    text = cell.strip()
    kind = term.kind
    if kind == "law":
        return (W.law_code(text) if text else None), None
    if kind == "country":
        return (W.country_code(text) if text else None), None
    if kind in {"opt_text", "text"}:
        if not text:
            return None, ("is empty" if term.required else None)
        return text, None
    if not text or (kind.startswith("opt_") and L.is_blank(text)):
        if term.required or not kind.startswith("opt_"):
            return None, "is empty"
        return None, None
    if kind in {"money", "opt_money", "percent", "opt_percent"}:
        number = L.parse_number(text)
        return (number, None) if number is not None else (None, f"{text!r} is not a number")
    if kind in {"int", "opt_int"}:
        whole = L.parse_int(text)
        return (whole, None) if whole is not None else (None, f"{text!r} is not a whole number")
    if kind in {"date", "opt_date"}:
        day = L.parse_date(text)
        return (day, None) if day is not None else (None, f"{text!r} is not a date (YYYY-MM-DD)")
    if kind == "bool":
        flag = L.parse_bool(text)
        return (flag, None) if flag is not None else (None, f"{text!r} is not Yes or No")
    if kind in {"enum", "opt_enum"} and term.choices is not None:
        code = L.enum_code(text, term.choices)
        if code is None:
            return None, f"{text!r} is not one of {L.allowed(term.choices)}"
        return code, None
    if kind == "party":
        party = L.party_code(text, direction)
        if party is None:
            return None, f"{text!r} is not Seller or Buyer"
        return party, None
    raise AssertionError(f"unknown term kind {kind}")
