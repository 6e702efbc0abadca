"""Bilingual labels and the exact text forms of values in a contract document.

Rendering and intake share this module so that every value written into a table can be
read back to the same term: a label maps both ways, a number is written in one canonical
form but read in the forms people type (`2,400,000`, `30 %`, `2026年12月1日`).
No python-docx here: the words are data, the layout lives in `render`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Label:
    """A term's English and Chinese name; `text` is how a document shows it."""

    en: str
    zh: str

    @property
    def text(self) -> str:
        return f"{self.en} / {self.zh}"

    def matches(self, cell: str) -> bool:
        """A cell names this label when it holds the English, the Chinese or both."""
        key = normalise_key(cell)
        return key in {normalise_key(self.en), normalise_key(self.zh), normalise_key(self.text)}


def normalise_key(text: str) -> str:
    """Case, spaces and punctuation variants people type do not matter in labels."""
    text = text.replace("（", "(").replace("）", ")").replace("：", ":").replace("／", "/")
    return re.sub(r"\s+", " ", text).strip().strip(":").strip().casefold()


# Enumerated values: code -> label. Intake accepts the code, the English, the Chinese or both.
DIRECTION = {"sell": Label("Seller", "卖方"), "buy": Label("Buyer", "买方")}
GUARANTEE_KIND = {
    "bank_guarantee": Label("Bank guarantee", "银行保函"),
    "standby_lc": Label("Standby letter of credit", "备用信用证"),
    "credit_insurance": Label("Credit insurance", "信用保险"),
    "collateral": Label("Collateral", "抵押/质押"),
    "parent_guarantee": Label("Parent company guarantee", "母公司担保"),
    "advance_payment_guarantee": Label("Advance payment guarantee", "预付款保函"),
    "performance_bond": Label("Performance bond", "履约保函"),
}
OBLIGATION_KIND = {
    "payment": Label("Payment", "付款"),
    "delivery": Label("Delivery", "交付"),
    "service": Label("Service", "服务"),
    "document": Label("Document", "单据"),
    "other": Label("Other", "其他"),
}
OBLIGATION_STATUS = {
    "open": Label("Open", "待履行"),
    "fulfilled": Label("Fulfilled", "已履行"),
    "waived": Label("Waived", "已豁免"),
}
YES_NO = {True: Label("Yes", "是"), False: Label("No", "否")}
NONE_WORD = Label("None", "无")
UNCAPPED = Label("Uncapped", "无上限")


def party_label(party: str, direction: str) -> Label:
    """`us` is the seller in a sale and the buyer in a purchase; the other side the opposite."""
    we_sell = direction == "sell"
    seller = party == "us" if we_sell else party == "counterparty"
    return DIRECTION["sell"] if seller else DIRECTION["buy"]


def party_code(cell: str, direction: str | None) -> str | None:
    """Read an obligor cell back: `us`/`counterparty`, or Seller/Buyer given the direction."""
    key = normalise_key(cell)
    if key in {"us", "counterparty"}:
        return key
    if key in {"our company", "我方"}:
        return "us"
    if key in {"对方"}:
        return "counterparty"
    if direction not in DIRECTION:
        return None
    for code in ("us", "counterparty"):
        if party_label(code, direction).matches(cell):
            return code
    return None


def enum_code(cell: str, labels: Mapping[str, Label]) -> str | None:
    """The code a cell names (by code or label), or None when it names none of them."""
    key = normalise_key(cell)
    for code, label in labels.items():
        if key == normalise_key(code) or label.matches(cell):
            return code
    return None


def allowed(labels: Mapping[str, Label]) -> str:
    return ", ".join(label.en for label in labels.values())


# -- numbers ------------------------------------------------------------------------------


def plain_number(value: Decimal) -> str:
    """30.0000 -> 30, 0.050000 -> 0.05: a rate or percent as a person writes it."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def money(value: Decimal) -> str:
    """2400000 -> 2,400,000.00 (amounts carry at most two decimal places)."""
    return f"{value.quantize(Decimal('0.01')):,.2f}"


_NUMBER_NOISE = re.compile(r"[,\s\u00a0\u3000，]|%|％|percent")


def parse_number(cell: str) -> Decimal | None:
    """`2,400,000.00`, `30 %`, `0.05` -> Decimal; anything else -> None."""
    text = _NUMBER_NOISE.sub("", cell.strip().casefold())
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def parse_int(cell: str) -> int | None:
    number = parse_number(re.sub(r"(?i)\s*(days?|天|日)\s*$", "", cell))
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


_DATE_FORMS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$"),
)


def parse_date(cell: str) -> dt.date | None:
    """ISO dates, 2026/12/01, 2026.12.01 and 2026年12月1日."""
    text = cell.strip()
    for form in _DATE_FORMS:
        match = form.match(text)
        if match:
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                return None
    return None


def parse_bool(cell: str) -> bool | None:
    key = normalise_key(cell)
    if key in {"yes", "true", "y", "是", normalise_key(YES_NO[True].text)}:
        return True
    if key in {"no", "false", "n", "否", normalise_key(YES_NO[False].text)}:
        return False
    return None


def is_blank(cell: str) -> bool:
    """An empty cell, or the words the renderer writes for "not set"."""
    key = normalise_key(cell)
    return key in {"", "-", "—", "–", "n/a"} or NONE_WORD.matches(cell) or UNCAPPED.matches(cell)


def long_date(value: dt.date) -> str:
    """2026-12-01 -> `1 December 2026 / 2026年12月1日` for prose."""
    return f"{value.day} {value:%B} {value.year} / {value.year}年{value.month}月{value.day}日"
