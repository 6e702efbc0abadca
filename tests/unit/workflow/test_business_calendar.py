"""The official Chinese business calendar: public holidays, the weekend days that are
working days instead (调休), local overrides, and a year without an official notice."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from engine.domain.riskconfig import RiskConfig
from engine.workflow.calendar import BusinessCalendar, _official_years
from engine.workflow.sla import add_business_days

SHANGHAI = ZoneInfo("Asia/Shanghai")


def d(month: int, day: int, year: int = 2026) -> dt.date:
    return dt.date(year, month, day)


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    """`hour`:00 in Shanghai on `day`."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def cn() -> BusinessCalendar:
    return BusinessCalendar(zone=SHANGHAI)


def working(calendar: BusinessCalendar, first: dt.date, last: dt.date) -> list[int]:
    """The days of the month from `first` to `last` that are business days."""
    out, day = [], first
    while day <= last:
        if calendar.is_business_day(day):
            out.append(day.day)
        day += dt.timedelta(days=1)
    return out


def test_the_2026_spring_festival_is_nine_days_off_with_two_working_saturdays(
    cn: BusinessCalendar,
) -> None:
    # State Council notice for 2026: off Sun 15 - Mon 23 February; Saturday 14 and
    # Saturday 28 February are working days.
    assert working(cn, d(2, 9), d(3, 1)) == [9, 10, 11, 12, 13, 14, 24, 25, 26, 27, 28]
    # Friday 13 + 1bd is the working Saturday; Saturday 14 + 1bd is Tuesday 24.
    assert add_business_days(at(d(2, 13)), 1, cn) == at(d(2, 14))
    assert add_business_days(at(d(2, 14)), 1, cn) == at(d(2, 24))
    assert add_business_days(at(d(2, 13)), 2, cn) == at(d(2, 24))
    assert add_business_days(at(d(2, 27)), 1, cn) == at(d(2, 28))
    assert add_business_days(at(d(2, 27)), 2, cn) == at(d(3, 2))


def test_the_2026_national_day_week_is_seven_days_off_with_a_working_sunday_and_saturday(
    cn: BusinessCalendar,
) -> None:
    # Off Thu 1 - Wed 7 October; Sunday 20 September and Saturday 10 October are working
    # days. Mid-Autumn (Fri 25 September) is off on its own.
    assert working(cn, d(9, 19), d(9, 27)) == [20, 21, 22, 23, 24]
    assert working(cn, d(9, 28), d(10, 11)) == [28, 29, 30, 8, 9, 10]
    assert add_business_days(at(d(9, 19)), 1, cn) == at(d(9, 20))
    assert add_business_days(at(d(9, 30)), 1, cn) == at(d(10, 8))
    assert add_business_days(at(d(9, 30)), 3, cn) == at(d(10, 10))
    assert add_business_days(at(d(9, 30)), 4, cn) == at(d(10, 12))


def test_the_rest_of_2026_follows_the_notice_too(cn: BusinessCalendar) -> None:
    assert working(cn, d(1, 1), d(1, 5)) == [4, 5]  # off Jan 1-3, Sunday 4 worked
    assert working(cn, d(4, 3), d(4, 7)) == [3, 7]  # Qingming, off Apr 4-6
    assert working(cn, d(4, 30), d(5, 11)) == [30, 6, 7, 8, 9, 11]  # off May 1-5, Sat 9 worked
    assert working(cn, d(6, 18), d(6, 22)) == [18, 22]  # Dragon Boat, off Jun 19-21


def test_config_holidays_and_workdays_override_the_official_calendar() -> None:
    calendar = BusinessCalendar(
        zone=SHANGHAI,
        # The office closes on the official working Saturday and on an ordinary Monday ...
        holidays=[d(2, 14), d(3, 2)],
        # ... and opens on an official holiday and on an ordinary Sunday.
        workdays=[d(2, 23), d(3, 8)],
    )
    assert not calendar.is_business_day(d(2, 14))
    assert not calendar.is_business_day(d(3, 2))
    assert calendar.is_business_day(d(2, 23))
    assert calendar.is_business_day(d(3, 8))
    assert calendar.is_business_day(d(2, 28))  # what is not overridden stays official
    assert add_business_days(at(d(2, 13)), 1, calendar) == at(d(2, 23))


def test_a_day_cannot_be_both_a_holiday_and_a_workday_in_the_config() -> None:
    with pytest.raises(ValueError, match="workdays: 2026-02-14 also listed in holidays"):
        RiskConfig(holidays=[d(2, 14)], workdays=[d(2, 14), d(2, 28)])


def test_without_the_official_calendar_only_weekends_and_overrides_count() -> None:
    plain = BusinessCalendar(official="none", holidays=[d(2, 16)])
    assert not plain.is_business_day(d(2, 14))  # the official working Saturday: not here
    assert not plain.is_business_day(d(2, 16))
    assert plain.is_business_day(d(2, 17))  # an official holiday: not here


def test_a_year_without_an_official_notice_is_told_once_with_what_is_assumed() -> None:
    year = max(_official_years()) + 1
    told: list[str] = []
    calendar = BusinessCalendar(warn=told.append, holidays=[dt.date(year, 3, 2)])
    assert not calendar.knows(year)
    assert calendar.is_business_day(dt.date(year, 3, 3)) == (dt.date(year, 3, 3).weekday() < 5)
    calendar.is_business_day(dt.date(year, 7, 1))
    calendar.prepare(year)
    assert len(told) == 1 and "\n" not in told[0]
    line = told[0]
    assert f"official Chinese calendar for {year}" in line
    assert "statutory public holidays" in line and "no make-up working days" in line
    assert f"1 holidays and 0 workdays config/risk.yaml gives for {year}" in line
    # What is assumed: statutory holidays (1 Jan, 1-3 Oct) are off when on a weekday; no
    # weekend day is a working day; the config's holiday is off.
    for statutory in (dt.date(year, 1, 1), dt.date(year, 10, 1), dt.date(year, 10, 2)):
        assert not calendar.is_business_day(statutory)
    day = dt.date(year, 1, 1)
    while day.year == year:
        if day.weekday() >= 5:
            assert not calendar.is_business_day(day), day
        day += dt.timedelta(days=1)
    assert not calendar.is_business_day(dt.date(year, 3, 2))


def test_a_known_year_is_not_told_about() -> None:
    told: list[str] = []
    calendar = BusinessCalendar(warn=told.append)
    calendar.prepare(2026)
    assert calendar.knows(2026) and told == []
    assert BusinessCalendar(official="none", warn=told.append).unknown_year_notice(2999) is None
