"""When a task is due: hours, calendar days, or business days (Mon-Fri minus holidays).

Pure arithmetic on aware UTC datetimes, so the machine stays free of clocks and config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from engine.domain.workflow import DueIn


def is_business_day(day: dt.date, holidays: Collection[dt.date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(start: dt.datetime, days: int, holidays: Collection[dt.date]) -> dt.datetime:
    """The same time of day on the `days`-th business day after `start`'s date.

    Friday 09:00 + 2bd = Tuesday 09:00; a task opened on a Saturday counts from Monday.
    """
    current = start
    counted = 0
    while counted < days:
        current += dt.timedelta(days=1)
        if is_business_day(current.date(), holidays):
            counted += 1
    return current


def due_at(
    opened: dt.datetime, due_in: DueIn | None, holidays: Collection[dt.date] = ()
) -> dt.datetime | None:
    """The deadline of a task opened at `opened` (None when the task has no SLA)."""
    if due_in is None:
        return None
    if due_in.unit == "h":
        return opened + dt.timedelta(hours=due_in.amount)
    if due_in.unit == "d":
        return opened + dt.timedelta(days=due_in.amount)
    return add_business_days(opened, due_in.amount, holidays)
