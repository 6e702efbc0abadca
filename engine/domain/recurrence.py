"""Recurring obligations: `repeat: {every: month|quarter|year, until: DATE}` stands for one
obligation per period from `due` to `until` (inclusive), with ids `OB-1#1`, `OB-1#2`, ...

Expansion is deterministic: occurrence k is due k periods after the first `due`, counted
from that date (not from the previous occurrence), with the day clamped to the month's
last day - a series due on 31 January is due 28/29 February, 31 March, 30 April, ... So a
re-submitted or amended file expands to the same ids and dates, and fulfilled occurrences
are matched by id.
"""

from __future__ import annotations

import calendar
import datetime as dt
from enum import StrEnum

#: More occurrences than this in one series is a mistake (monthly for 50 years).
MAX_OCCURRENCES = 600
#: Occurrence ids append `#N`; the stored id is at most 32 characters.
MAX_BASE_ID = 27

OCCURRENCE_SEPARATOR = "#"


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def months(self) -> int:
        return {"month": 1, "quarter": 3, "year": 12}[self.value]


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` moved by whole months, the day of month clamped to the month's end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def occurrence_dates(due: dt.date, every: Period, until: dt.date) -> list[dt.date]:
    """Every due date of a series, first to last; empty when `until` is before `due`.
    Stops after `MAX_OCCURRENCES + 1` dates (the caller reports the overflow)."""
    out: list[dt.date] = []
    k = 0
    while len(out) <= MAX_OCCURRENCES:
        day = add_months(due, k * every.months)
        if day > until:
            break
        out.append(day)
        k += 1
    return out


def occurrence_id(base: str, number: int) -> str:
    return f"{base}{OCCURRENCE_SEPARATOR}{number}"
