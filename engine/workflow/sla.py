"""When a task is due: hours, calendar days, or business days (engine.workflow.calendar).

Pure arithmetic on aware datetimes; the calendar (official days, overrides, time zone)
comes in as an argument, so the machine stays free of clocks and config.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from engine.domain.workflow import DueIn
from engine.workflow.calendar import WEEKDAYS


class BusinessDays(Protocol):
    """What the SLA arithmetic asks of a calendar (engine.workflow.calendar has the real one)."""

    @property
    def zone(self) -> dt.tzinfo: ...

    def is_business_day(self, day: dt.date) -> bool: ...


def add_business_days(start: dt.datetime, days: int, calendar: BusinessDays) -> dt.datetime:
    """The same local time of day on the `days`-th business day after `start`'s local date.

    Friday 09:00 + 2bd = Tuesday 09:00; a task opened on a Saturday counts from Monday.
    The answer is in `start`'s time zone.
    """
    current = start.astimezone(calendar.zone)
    counted = 0
    one = dt.timedelta(days=1)
    while counted < days:
        current += one  # wall-clock arithmetic: the same local time of day
        if calendar.is_business_day(current.date()):
            counted += 1
    return current.astimezone(start.tzinfo)


def due_at(
    opened: dt.datetime, due_in: DueIn | None, calendar: BusinessDays = WEEKDAYS
) -> dt.datetime | None:
    """The deadline of a task opened at `opened` (None when the task has no SLA)."""
    if due_in is None:
        return None
    if due_in.unit == "h":
        return opened + dt.timedelta(hours=due_in.amount)
    if due_in.unit == "d":
        return opened + dt.timedelta(days=due_in.amount)
    return add_business_days(opened, due_in.amount, calendar)
