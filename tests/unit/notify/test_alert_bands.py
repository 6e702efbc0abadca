"""The alert levels' date bands follow SPEC section 2 and config/risk.yaml."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.definitions.riskconfig import RiskConfig
from engine.services.alert_planning import Bands

AS_OF = dt.date(2027, 3, 1)
DEFAULTS = RiskConfig(
    parameters={
        "due_soon_days": Decimal(7),
        "overdue_high_days": Decimal(14),
        "overdue_critical_days": Decimal(60),
    }
)


@pytest.mark.parametrize(
    ("days_late", "level"),
    [
        (-8, None),
        (-7, "due_soon"),
        (0, "due_soon"),
        (1, "overdue"),
        (14, "overdue"),
        (15, "overdue_high"),
        (60, "overdue_high"),
        (61, "overdue_critical"),
        (400, "overdue_critical"),
    ],
)
def test_levels_by_days_late(days_late: int, level: str | None) -> None:
    bands = Bands.for_date(AS_OF, DEFAULTS)
    assert bands.level_of(AS_OF - dt.timedelta(days=days_late)) == level


def test_thresholds_come_from_the_risk_config() -> None:
    config = RiskConfig(
        parameters={
            "due_soon_days": Decimal(3),
            "overdue_high_days": Decimal(5),
            "overdue_critical_days": Decimal(10),
        }
    )
    bands = Bands.for_date(AS_OF, config)
    assert bands.level_of(AS_OF + dt.timedelta(days=4)) is None
    assert bands.level_of(AS_OF - dt.timedelta(days=6)) == "overdue_high"
    assert bands.level_of(AS_OF - dt.timedelta(days=11)) == "overdue_critical"
