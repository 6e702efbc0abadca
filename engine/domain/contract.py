"""The contract as a contract admin writes it (SPEC section 1).

Models are frozen and refuse unknown keys: a typo must not silently drop a term. Money is
`Decimal`. Cross-field rules live in `cross_field_problems`, which works on raw data too,
so a file with several mistakes gets every one of them reported in a single pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from engine.domain.counterparty import normalise_code, uscc_problem

CONTRACT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"


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
ItemId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Counterparty(_Strict):
    name: str = Field(min_length=1, max_length=200)
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
    label: str | None = Field(default=None, max_length=200)


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
    issuer: str | None = Field(default=None, max_length=200)
    expires_on: dt.date | None = None


class Obligation(_Strict):
    id: ItemId
    party: Party
    kind: ObligationKind
    description: str = Field(default="", max_length=500)
    due: dt.date
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] | None = None
    status: ObligationStatus = ObligationStatus.OPEN
    fulfilled_on: dt.date | None = None
    owner: str | None = Field(
        default=None, max_length=64, description="user told about this obligation"
    )


class Contract(_Strict):
    """One contract draft or revision exactly as SPEC section 1 describes it."""

    id: str | None = Field(default=None, pattern=CONTRACT_ID_PATTERN)
    title: str = Field(min_length=1, max_length=300)
    direction: Direction
    counterparty: Counterparty
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")
    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
    start_date: dt.date
    end_date: dt.date
    owner: str | None = Field(default=None, max_length=64)
    payment_terms: PaymentTerms = Field(default_factory=PaymentTerms)
    guarantees: list[Guarantee] = Field(default_factory=list)
    liability_cap_percent: (
        Annotated[Decimal, Field(ge=0, max_digits=9, decimal_places=4)] | None
    ) = None
    auto_renewal: bool = False
    renewal_notice_days: int | None = Field(default=None, ge=0, le=3650)
    governing_law: str | None = Field(default=None, max_length=64)
    obligations: list[Obligation] = Field(default_factory=list)

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


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


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
    start, end = _as_date(data.get("start_date")), _as_date(data.get("end_date"))
    if start and end and end < start:
        problems.append(("end_date", f"{end} is before start_date {start}"))

    currency = data.get("currency")
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
        percents = [_as_decimal(i.get("percent")) for i in _items(terms, "installments")]
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
        for dup in find(ids):
            problems.append((key, f"id {dup} is used more than once"))

    for i, ob in enumerate(_items(data, "obligations")):
        status = ob.get("status", "open")
        if status == "fulfilled" and ob.get("fulfilled_on") in (None, ""):
            problems.append((f"obligations[{i}].fulfilled_on", "required when status is fulfilled"))
        if status != "fulfilled" and ob.get("fulfilled_on") not in (None, ""):
            problems.append(
                (f"obligations[{i}].fulfilled_on", f"must be empty when status is {status}")
            )
    return problems


def _fmt(value: Decimal) -> str:
    """90.00 -> 90, 99.5 -> 99.5: numbers as a person writes them."""
    return format(value.normalize(), "f")


def parse_contract(data: Mapping[str, Any], currencies: Collection[str] | None = None) -> Contract:
    """Validate raw data (from YAML or JSON) into a `Contract`; raises pydantic's ValidationError."""
    return Contract.model_validate(data, context={"currencies": currencies})
