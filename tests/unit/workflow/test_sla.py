"""Due times: hours, calendar days, business days counted in a calendar's local days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from engine.domain.workflow import DueIn
from engine.workflow.calendar import WEEKDAYS, BusinessCalendar
from engine.workflow.sla import add_business_days, due_at

FRIDAY = dt.datetime(2027, 1, 8, 9, 0, tzinfo=dt.UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_hours_and_days_are_calendar_time() -> None:
    assert due_at(FRIDAY, DueIn.parse("12h")) == FRIDAY + dt.timedelta(hours=12)
    assert due_at(FRIDAY, DueIn.parse("3d")) == FRIDAY + dt.timedelta(days=3)
    assert due_at(FRIDAY, None) is None


def test_business_days_skip_the_weekend() -> None:
    assert due_at(FRIDAY, DueIn.parse("2bd")) == dt.datetime(2027, 1, 12, 9, 0, tzinfo=dt.UTC)


def test_business_days_skip_the_holidays_given_as_overrides() -> None:
    friday = dt.datetime(2027, 2, 12, 9, 0, tzinfo=dt.UTC)
    calendar = BusinessCalendar(
        official="none", holidays={dt.date(2027, 2, d) for d in (16, 17, 18, 19, 22)}
    )
    assert add_business_days(friday, 2, calendar) == dt.datetime(2027, 2, 23, 9, 0, tzinfo=dt.UTC)


def test_a_task_opened_on_a_saturday_counts_from_monday() -> None:
    saturday = dt.datetime(2027, 1, 9, 15, 0, tzinfo=dt.UTC)
    assert add_business_days(saturday, 1, WEEKDAYS) == dt.datetime(
        2027, 1, 11, 15, 0, tzinfo=dt.UTC
    )


def test_business_days_are_local_days_where_the_business_is() -> None:
    # Friday 20:00 UTC is already Saturday 04:00 in Shanghai: the task was opened on a
    # Saturday there, so 1bd is Monday 04:00 Shanghai (Sunday 20:00 UTC), not Monday UTC.
    opened = dt.datetime(2027, 1, 8, 20, 0, tzinfo=dt.UTC)
    calendar = BusinessCalendar(official="none", zone=SHANGHAI)
    due = add_business_days(opened, 1, calendar)
    assert due == dt.datetime(2027, 1, 10, 20, 0, tzinfo=dt.UTC)
    assert due.tzinfo == dt.UTC
    assert due.astimezone(SHANGHAI).strftime("%a %H:%M") == "Mon 04:00"


def test_due_in_text_is_parsed_strictly() -> None:
    assert DueIn.parse("3d") == DueIn(amount=3, unit="d")
    for bad in ("3w", "d3", "0d", "-1h", "3 days", ""):
        assert DueIn.parse(bad) is None
