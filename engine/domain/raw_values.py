"""Lenient readers of raw contract-file values.

Some checks run on the data as written, before (or whether or not) it validates, so that
one pass reports every problem: a date that does not parse must not hide the
end-before-start check of another field. These read a value when they can and give None
when they cannot; the schema reports the bad value itself.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any


def as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def as_date(value: Any) -> dt.date | None:
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
