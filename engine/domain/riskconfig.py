"""Money and thresholds the risk rules read (`config/risk.yaml`, loaded by
`engine.definitions.riskconfig`).

The model lives in the core layer because both the file loader and the risk backends use
it, and those two adapters may not import each other.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Rate = Annotated[Decimal, Field(gt=0)]

#: The official calendar business-day SLAs follow: "CN" (China's, with its 调休 working
#: weekends) or "none" (Monday-Friday); `holidays` / `workdays` override either.
OfficialCalendar = Literal["CN", "none"]


class RiskConfig(BaseModel):
    """Money and thresholds the rules read. `fx_rates[X]` = base-currency units per 1 X."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    fx_rates: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], Rate] = Field(default_factory=dict)
    parameters: dict[str, Decimal] = Field(default_factory=dict)
    business_calendar: OfficialCalendar = "CN"
    #: Local overrides of the official calendar: never / always business days.
    holidays: list[dt.date] = Field(default_factory=list)
    workdays: list[dt.date] = Field(default_factory=list)
    # Days before a contract's end_date at which its owner is told it expires (SPEC 8).
    expiry_alert_days: list[Annotated[int, Field(ge=1, le=3650)]] = Field(
        default_factory=lambda: [90, 60, 30], min_length=1, max_length=12
    )
    checksum: str = Field(default="", exclude=True)

    @field_validator("expiry_alert_days")
    @classmethod
    def _distinct_levels(cls, days: list[int]) -> list[int]:
        """Largest first (the first alert first); each level once."""
        if len(set(days)) != len(days):
            raise ValueError(f"each number of days may appear once, got {days}")
        return sorted(days, reverse=True)

    @model_validator(mode="after")
    def _holiday_or_workday(self) -> Self:
        """A day cannot be both a local holiday and a local working day."""
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            days = ", ".join(d.isoformat() for d in both)
            raise ValueError(
                f"workdays: {days} also listed in holidays (a day is one or the other)"
            )
        return self

    @property
    def currencies(self) -> frozenset[str]:
        """Currencies a contract may be written in."""
        return frozenset({self.base_currency, *self.fx_rates})

    def to_base(self, amount: Decimal, currency: str) -> Decimal:
        """Convert an amount into the base currency (exact Decimal arithmetic)."""
        if currency == self.base_currency:
            return amount
        return amount * self.fx_rates[currency]
