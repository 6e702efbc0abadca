"""Risk flags and reports (SPEC section 2): what an evaluation returns."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    """Flag severities, ordered: low < medium < high < critical. `none` = no flags."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __ge__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank >= other.rank
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank > other.rank
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank <= other.rank
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Severity):
            return self.rank < other.rank
        return NotImplemented


_RANK = {s: i for i, s in enumerate(Severity)}


class Category(StrEnum):
    PAYMENT_TERMS = "payment_terms"
    GUARANTEES = "guarantees"
    OBLIGATIONS = "obligations"
    LIABILITY = "liability"
    RENEWAL = "renewal"
    COUNTERPARTY = "counterparty"


class Flag(BaseModel):
    """One risk found in one contract: a stable rule id and the values that made it fire."""

    model_config = ConfigDict(frozen=True)

    rule: str
    category: str
    severity: Severity
    message: str
    subject: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (-self.severity.rank, self.rule, self.subject or "")


class RiskReport(BaseModel):
    """Every flag of one contract as of one date, and the rule set that produced them."""

    model_config = ConfigDict(frozen=True)

    contract: str | None
    as_of: dt.date
    flags: list[Flag] = Field(default_factory=list)
    ruleset_checksum: str = ""

    @property
    def max_severity(self) -> Severity:
        return max((f.severity for f in self.flags), default=Severity.NONE, key=lambda s: s.rank)

    @property
    def categories(self) -> list[str]:
        return sorted({f.category for f in self.flags})


def max_severity(flags: list[Flag]) -> Severity:
    return max((f.severity for f in flags), default=Severity.NONE, key=lambda s: s.rank)
