"""The contract as a contract admin writes it (SPEC section 1).

Models are frozen and refuse unknown keys: a typo must not silently drop a term. Money is
`Decimal`. Cross-field rules live in `cross_field_problems`, which works on raw data too,
so a file with several mistakes gets every one of them reported in a single pass.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from engine.domain.counterparty import normalise_code, uscc_problem
from engine.domain.raw_values import as_date, as_decimal
from engine.domain.recurrence import (
    MAX_BASE_ID,
    MAX_OCCURRENCES,
    Period,
    occurrence_dates,
    occurrence_id,
)

# Ids end up in URLs (/contracts/SC-2026-0042), file names and e-mail subjects, so they are
# plain: letters, digits, `-`, `_`, and `#` for a recurring obligation's occurrences
# (`OB-1#3`). `SC/..//x` used to be accepted and the contract was then unreachable.
ID_CHARS = r"[A-Za-z0-9][A-Za-z0-9_#-]"
CONTRACT_ID_PATTERN = rf"^{ID_CHARS}{{0,63}}$"
ITEM_ID_PATTERN = rf"^{ID_CHARS}{{0,31}}$"
_CONTROL = {chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))} | {"\u2028", "\u2029"}
# The same characters as one compiled class: a regex search runs in C, the per-character
# generator it replaces was a third of parsing a stored contract (measured in `whatif`).
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_NO_BREAKS_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # \t, \n allowed


def _one_line(value: str) -> str:
    """Titles and names are shown in tables, headers and subjects: a CR, LF, NUL or escape
    there breaks a layout or forges a line, so they are refused with the character named."""
    found = _CONTROL_RE.search(value)
    if found is not None:
        raise ValueError(
            f"control character U+{ord(found.group()):04X} is not allowed in a one-line field "
            "(no line breaks, tabs, NUL or escape codes)"
        )
    return value


def _no_nul(value: str) -> str:
    """Multi-line text (descriptions) may break lines, but never carries NUL or escapes."""
    found = _CONTROL_NO_BREAKS_RE.search(value)
    if found is not None:
        raise ValueError(f"control character U+{ord(found.group()):04X} is not allowed")
    return value


CURRENCY_ALIASES = {"RMB": "CNY"}

OneLine = Annotated[str, AfterValidator(_one_line)]
Text = Annotated[str, AfterValidator(_no_nul)]


class Direction(StrEnum):
    SELL = "sell"
    BUY = "buy"


class CreditRating(StrEnum):
    AAA = "AAA"
    AA = "AA"
    A = "A"
    BBB = "BBB"
    BB = "BB"
    B = "B"
    CCC = "CCC"
    CC = "CC"
    C = "C"
    D = "D"

    @property
    def rank(self) -> int:
        """0 for AAA (best) up to 9 for D (worst)."""
        return list(CreditRating).index(self)


class GuaranteeKind(StrEnum):
    BANK_GUARANTEE = "bank_guarantee"
    STANDBY_LC = "standby_lc"
    CREDIT_INSURANCE = "credit_insurance"
    COLLATERAL = "collateral"
    PARENT_GUARANTEE = "parent_guarantee"
    ADVANCE_PAYMENT_GUARANTEE = "advance_payment_guarantee"
    PERFORMANCE_BOND = "performance_bond"


class Party(StrEnum):
    COUNTERPARTY = "counterparty"
    US = "us"


class ObligationKind(StrEnum):
    PAYMENT = "payment"
    DELIVERY = "delivery"
    SERVICE = "service"
    DOCUMENT = "document"
    OTHER = "other"


class ObligationStatus(StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"
    WAIVED = "waived"


Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=9, decimal_places=4)]
Money = Annotated[Decimal, Field(max_digits=18, decimal_places=2)]
ItemId = Annotated[str, Field(min_length=1, max_length=32, pattern=ITEM_ID_PATTERN)]
#: An obligation id: a written id, or an occurrence of a recurring one (`OB-1#3`).
ObligationId = ItemId


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Counterparty(_Strict):
    name: OneLine = Field(min_length=1, max_length=200)
    #: Unified Social Credit Code (GB 32100-2015); links the contract to the register.
    code: str | None = Field(default=None, max_length=18)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2")
    credit_rating: CreditRating | None = None

    @field_validator("code")
    @classmethod
    def _code_checked(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = normalise_code(value)
        problem = uscc_problem(code)
        if problem:
            raise ValueError(f"not a Unified Social Credit Code: {problem}")
        return code


class Installment(_Strict):
    percent: Annotated[Decimal, Field(gt=0, le=100, max_digits=9, decimal_places=4)]
    due: dt.date
    label: OneLine | None = Field(default=None, max_length=200)


class PaymentTerms(_Strict):
    prepayment_percent: Percent = Decimal(0)
    net_days: int = Field(default=30, ge=0, le=3650)
    late_penalty_percent_per_day: (
        Annotated[Decimal, Field(ge=0, le=100, max_digits=9, decimal_places=6)] | None
    ) = None
    installments: list[Installment] | None = None


class Guarantee(_Strict):
    id: ItemId | None = None
    kind: GuaranteeKind
    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
    issuer: OneLine | None = Field(default=None, max_length=200)
    expires_on: dt.date | None = None


class Repeat(_Strict):
    """`repeat: {every: month, until: 2027-12-31}` (docs/contract-format.md)."""

    every: Period
    until: dt.date


class Obligation(_Strict):
    id: ObligationId
    party: Party
    kind: ObligationKind
    description: Text = Field(default="", max_length=500)
    due: dt.date
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] | None = None
    status: ObligationStatus = ObligationStatus.OPEN
    fulfilled_on: dt.date | None = None
    owner: OneLine | None = Field(
        default=None, max_length=64, description="user told about this obligation"
    )
    repeat: Repeat | None = None

    def occurrences(self) -> list[Obligation]:
        """This obligation as the obligations it stands for (itself, when it does not repeat)."""
        if self.repeat is None:
            return [self]
        dates = occurrence_dates(self.due, self.repeat.every, self.repeat.until)
        return [
            self.model_copy(update={"id": occurrence_id(self.id, n), "due": day, "repeat": None})
            for n, day in enumerate(dates, start=1)
        ]


class Contract(_Strict):
    """One contract draft or revision exactly as SPEC section 1 describes it."""

    id: str | None = Field(default=None, pattern=CONTRACT_ID_PATTERN)
    title: OneLine = Field(min_length=1, max_length=300)
    direction: Direction
    counterparty: Counterparty
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")
    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
    start_date: dt.date
    end_date: dt.date
    owner: OneLine | None = Field(default=None, max_length=64)
    payment_terms: PaymentTerms = Field(default_factory=PaymentTerms)
    guarantees: list[Guarantee] = Field(default_factory=list)
    liability_cap_percent: (
        Annotated[Decimal, Field(ge=0, max_digits=9, decimal_places=4)] | None
    ) = None
    auto_renewal: bool = False
    renewal_notice_days: int | None = Field(default=None, ge=0, le=3650)
    governing_law: OneLine | None = Field(default=None, max_length=64)
    obligations: list[Obligation] = Field(default_factory=list)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_alias(cls, value: Any) -> Any:
        """`RMB` is what many people write for the renminbi; ISO 4217 says CNY, and that is
        what is stored (and what the FX table and the rules know)."""
        return CURRENCY_ALIASES.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _cross_fields(self, info: ValidationInfo) -> Contract:
        context = (info.context or {}) if info else {}
        currencies = context.get("currencies")
        # Terms read back from the database were checked when they were stored; batch
        # re-scoring skips the (costly) re-check with context={"stored": True}.
        stored = bool(context.get("stored"))
        problems = (
            [] if stored else cross_field_problems(self.model_dump(mode="python"), currencies)
        )
        if problems:
            raise ValueError("; ".join(f"{path}: {msg}" for path, msg in problems))
        # A recurring obligation stands for its occurrences, each tracked on its own.
        if any(o.repeat is not None for o in self.obligations):
            expanded = [occ for o in self.obligations for occ in o.occurrences()]
            object.__setattr__(self, "obligations", expanded)
        # Default guarantee ids by position (G-1, G-2, ...) so every guarantee is addressable.
        if any(g.id is None for g in self.guarantees):
            filled = [
                g if g.id else g.model_copy(update={"id": f"G-{i}"})
                for i, g in enumerate(self.guarantees, start=1)
            ]
            object.__setattr__(self, "guarantees", filled)
        return self

    @property
    def exposure(self) -> Decimal:
        """Amount not covered by prepayment, in the contract currency."""
        return self.amount * (100 - self.payment_terms.prepayment_percent) / 100

    def guarantee(self, gid: str) -> Guarantee | None:
        return next((g for g in self.guarantees if g.id == gid), None)

    def obligation(self, oid: str) -> Obligation | None:
        return next((o for o in self.obligations if o.id == oid), None)


def _items(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _duplicates(ids: list[Any]) -> list[str]:
    seen: set[Any] = set()
    dups: list[str] = []
    for i in ids:
        if i is None:
            continue
        if i in seen and str(i) not in dups:
            dups.append(str(i))
        seen.add(i)
    return dups


def cross_field_problems(
    data: Mapping[str, Any], currencies: Collection[str] | None = None
) -> list[tuple[str, str]]:
    """Rules that span several fields, as (field path, message) pairs.

    Tolerant of raw, partly invalid input: a value that cannot be read is skipped here
    because field validation already reports it.
    """
    problems: list[tuple[str, str]] = []
    start, end = as_date(data.get("start_date")), as_date(data.get("end_date"))
    if start and end and end < start:
        problems.append(("end_date", f"{end} is before start_date {start}"))

    currency = data.get("currency")
    currency = CURRENCY_ALIASES.get(currency, currency) if isinstance(currency, str) else currency
    if currencies is not None and isinstance(currency, str) and currency not in currencies:
        allowed = ", ".join(sorted(currencies))
        problems.append(
            (
                "currency",
                f"{currency} is neither the base currency nor has an FX rate (known: {allowed})",
            )
        )

    terms = data.get("payment_terms")
    if isinstance(terms, Mapping) and isinstance(terms.get("installments"), list):
        percents = [as_decimal(i.get("percent")) for i in _items(terms, "installments")]
        if percents and all(p is not None for p in percents):
            total = sum((p for p in percents if p is not None), Decimal(0))
            if total != 100:
                problems.append(
                    ("payment_terms.installments", f"percents add up to {_fmt(total)}, not 100")
                )

    checks: list[tuple[str, Callable[[list[Any]], list[str]]]] = [
        ("obligations", _duplicates),
        ("guarantees", _duplicates),
    ]
    for key, find in checks:
        ids = [item.get("id") for item in _items(data, key)]
        if key == "obligations":
            ids = _expanded_ids(_items(data, key))
        for dup in find(ids):
            problems.append((key, f"id {dup} is used more than once"))
    problems.extend(_repeat_problems(_items(data, "obligations")))

    for i, ob in enumerate(_items(data, "obligations")):
        status = ob.get("status", "open")
        if status == "fulfilled" and ob.get("fulfilled_on") in (None, ""):
            problems.append((f"obligations[{i}].fulfilled_on", "required when status is fulfilled"))
        if status != "fulfilled" and ob.get("fulfilled_on") not in (None, ""):
            problems.append(
                (f"obligations[{i}].fulfilled_on", f"must be empty when status is {status}")
            )
    return problems


def _repeat_of(ob: Mapping[str, Any]) -> tuple[dt.date, Period, dt.date] | None:
    """(due, every, until) of a readable `repeat`, else None (field errors report the rest)."""
    repeat = ob.get("repeat")
    if not isinstance(repeat, Mapping):
        return None
    due, until = as_date(ob.get("due")), as_date(repeat.get("until"))
    try:
        every = Period(str(repeat.get("every")))
    except ValueError:
        return None
    if due is None or until is None:
        return None
    return due, every, until


def _expanded_ids(obligations: list[Mapping[str, Any]]) -> list[Any]:
    ids: list[Any] = []
    for ob in obligations:
        parsed = _repeat_of(ob)
        if parsed is None or not isinstance(ob.get("id"), str):
            ids.append(ob.get("id"))
            continue
        count = min(len(occurrence_dates(*parsed)), MAX_OCCURRENCES)
        ids.extend(occurrence_id(ob["id"], n) for n in range(1, count + 1))
    return ids


def _repeat_problems(obligations: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for i, ob in enumerate(obligations):
        if ob.get("repeat") is None:
            continue
        where = f"obligations[{i}]"
        oid = ob.get("id")
        if isinstance(oid, str) and "#" in oid:
            problems.append((f"{where}.id", "a recurring obligation's id may not contain #"))
        elif isinstance(oid, str) and len(oid) > MAX_BASE_ID:
            problems.append(
                (f"{where}.id", f"at most {MAX_BASE_ID} characters when it repeats (ids add #N)")
            )
        if ob.get("status", "open") != "open":
            problems.append((f"{where}.repeat", "only an open obligation can repeat"))
        parsed = _repeat_of(ob)
        if parsed is None:
            continue
        due, every, until = parsed
        if until < due:
            problems.append((f"{where}.repeat.until", f"{until} is before due {due}"))
        elif len(occurrence_dates(due, every, until)) > MAX_OCCURRENCES:
            problems.append(
                (f"{where}.repeat.until", f"more than {MAX_OCCURRENCES} occurrences; end it sooner")
            )
    return problems


def _fmt(value: Decimal) -> str:
    """90.00 -> 90, 99.5 -> 99.5: numbers as a person writes them."""
    return format(value.normalize(), "f")


def parse_contract(data: Mapping[str, Any], currencies: Collection[str] | None = None) -> Contract:
    """Validate raw data (from YAML or JSON) into a `Contract`; raises pydantic's ValidationError."""
    return Contract.model_validate(data, context={"currencies": currencies})
