"""`config/risk.yaml`: base currency, FX rates, rule thresholds and the business calendar.

Risk officers edit this file; it is validated strictly (unknown keys refused) and every
problem names `file:line`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.definitions.yamlio import format_loc, load_yaml_text, read_text
from engine.errors import InvalidDefinition

Rate = Annotated[Decimal, Field(gt=0)]


class RiskConfig(BaseModel):
    """Money and thresholds the rules read. `fx_rates[X]` = base-currency units per 1 X."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    fx_rates: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], Rate] = Field(default_factory=dict)
    parameters: dict[str, Decimal] = Field(default_factory=dict)
    holidays: list[dt.date] = Field(default_factory=list)
    checksum: str = Field(default="", exclude=True)

    @property
    def currencies(self) -> frozenset[str]:
        """Currencies a contract may be written in."""
        return frozenset({self.base_currency, *self.fx_rates})

    def to_base(self, amount: Decimal, currency: str) -> Decimal:
        """Convert an amount into the base currency (exact Decimal arithmetic)."""
        if currency == self.base_currency:
            return amount
        return amount * self.fx_rates[currency]


def load_risk_config(path: Path, base_currency: str | None = None) -> RiskConfig:
    """Read and check `risk.yaml`; a missing file gives the defaults (CNY, no FX rates)."""
    if not path.exists():
        cfg = RiskConfig()
    else:
        text = read_text(path)
        data, lines = load_yaml_text(text, str(path))
        if data is None:
            data = {}
        try:
            cfg = RiskConfig.model_validate(data)
        except ValidationError as exc:
            raise InvalidDefinition(
                f"{path}:{lines.line(err['loc']) or 1}: {format_loc(err['loc'])}: {err['msg']}"
                for err in exc.errors()
            ) from None
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        cfg = cfg.model_copy(update={"checksum": digest})
    if base_currency and base_currency != cfg.base_currency:
        cfg = cfg.model_copy(update={"base_currency": base_currency})
    return cfg
