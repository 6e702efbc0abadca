"""The evaluator interface the workflow and services depend on.

Backends (durable_rules in worker processes, plain-Python predicates) implement it; the
workflow's routing only ever sees a `RiskReport`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport


class RiskEvaluator(Protocol):
    """Scores contracts as of a date; `params` overrides named thresholds for one call."""

    def evaluate(
        self,
        contracts: Sequence[Contract],
        as_of: dt.date,
        params: Mapping[str, Decimal] | None = None,
    ) -> list[RiskReport]: ...

    @property
    def checksum(self) -> str:
        """Identifies the rule set and parameters in use (stored beside every flag)."""
        ...

    def close(self) -> None: ...
