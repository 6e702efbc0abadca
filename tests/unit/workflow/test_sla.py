"""Due times: hours, calendar days, business days skipping weekends and holidays."""

from __future__ import annotations

import datetime as dt

from engine.domain.workflow import DueIn
from engine.workflow.sla import add_business_days, due_at

FRIDAY = dt.datetime(2027, 1, 8, 9, 0, tzinfo=dt.UTC)


def test_hours_and_days_are_calendar_time() -> None:
    assert due_at(FRIDAY, DueIn.parse("12h")) == FRIDAY + dt.timedelta(hours=12)
    assert due_at(FRIDAY, DueIn.parse("3d")) == FRIDAY + dt.timedelta(days=3)
    assert due_at(FRIDAY, None) is None


def test_business_days_skip_the_weekend() -> None:
    assert due_at(FRIDAY, DueIn.parse("2bd")) == dt.datetime(2027, 1, 12, 9, 0, tzinfo=dt.UTC)


def test_business_days_skip_holidays_from_config() -> None:
    # 2027-02-16..19 and 22 are Spring Festival holidays in config/risk.yaml.
    friday = dt.datetime(2027, 2, 12, 9, 0, tzinfo=dt.UTC)
    holidays = {dt.date(2027, 2, d) for d in (16, 17, 18, 19, 22)}
    assert add_business_days(friday, 2, holidays) == dt.datetime(2027, 2, 23, 9, 0, tzinfo=dt.UTC)


def test_a_task_opened_on_a_saturday_counts_from_monday() -> None:
    saturday = dt.datetime(2027, 1, 9, 15, 0, tzinfo=dt.UTC)
    assert add_business_days(saturday, 1, ()) == dt.datetime(2027, 1, 11, 15, 0, tzinfo=dt.UTC)


def test_due_in_text_is_parsed_strictly() -> None:
    assert DueIn.parse("3d") == DueIn(amount=3, unit="d")
    for bad in ("3w", "d3", "0d", "-1h", "3 days", ""):
        assert DueIn.parse(bad) is None
