"""Which local days count for business-day SLAs (`2bd`): the official Chinese calendar.

China moves working days around its public holidays (调休): the State Council's yearly
notice makes whole holiday weeks and names the weekend days that are working days instead
(2026: Saturday 14 and 28 February around the Spring Festival, Sunday 20 September and
Saturday 10 October around National Day). Mon-Fri minus a holiday list cannot say that, so
the official calendar comes from the `holidays` package (maintained, released monthly,
each year's notice entered with its source), and `config/risk.yaml` overrides it locally:
`holidays` are never business days, `workdays` always are.

A year the package has no official notice for yet is not guessed silently: the calendar
assumes the statutory public holidays of that year (fixed by law, computed by the package
from the lunar calendar) without any make-up working days, and says so once
(`unknown_year_notice`), through the `warn` callback, when it first needs that year.

`is_business_day` is on the approval path, so each year is built once into a frozenset of
its business days (a few milliseconds) and every later question is a set lookup.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection
from importlib.metadata import version

from engine.domain.riskconfig import OfficialCalendar

LIBRARY = "holidays"


def _official_years() -> frozenset[int]:
    """Years for which the package holds the State Council's notice (holidays + 调休)."""
    from holidays.countries.china import ChinaStaticHolidays

    return frozenset(ChinaStaticHolidays.special_public_holidays)


def _official_days(year: int, *, known: bool) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """(weekday public holidays, weekend working days) of `year` in China.

    For a year without a notice the statutory holidays only (observed=False: no bridge
    days, no moved weekends)."""
    from holidays.countries.china import China

    cn = China(years=year, observed=known)
    off = frozenset(d for d in cn if d.year == year and d.weekday() < 5)
    # weekend_workdays may carry dates of neighbouring years (a notice can move a day of
    # the year before): keep this year's only.
    on = frozenset(d for d in cn.weekend_workdays if d.year == year) if known else frozenset()
    return off, on


class BusinessCalendar:
    """Business days: the official calendar (`official`), then the local overrides.

    Days are local days in `zone` (where the business is, `CONTRACTFLOW_TIMEZONE`): a task
    opened at 01:00 on a Saturday in Shanghai was opened on a Saturday, whatever UTC says.
    """

    def __init__(
        self,
        *,
        official: OfficialCalendar = "CN",
        holidays: Collection[dt.date] = (),
        workdays: Collection[dt.date] = (),
        zone: dt.tzinfo = dt.UTC,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.official = official
        self.zone = zone
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self.warn = warn
        self._years: dict[int, frozenset[dt.date]] = {}
        self._lock = threading.Lock()
        self._known: frozenset[int] | None = None

    def is_business_day(self, day: dt.date) -> bool:
        days = self._years.get(day.year)
        if days is None:
            days = self._build(day.year)
        return day in days

    def prepare(self, year: int) -> None:
        """Build `year` now (and tell now if it is unknown) instead of on first use."""
        if year not in self._years:
            self._build(year)

    def knows(self, year: int) -> bool:
        """Whether the official calendar of `year` is known (always, with official "none")."""
        if self.official == "none":
            return True
        if self._known is None:
            self._known = _official_years()
        return year in self._known

    def unknown_year_notice(self, year: int) -> str | None:
        """One line saying what is assumed for `year`, or None when the year is known."""
        if self.knows(year):
            return None
        holidays = sum(1 for d in self.holidays if d.year == year)
        workdays = sum(1 for d in self.workdays if d.year == year)
        return (
            f"business calendar: {LIBRARY} {version(LIBRARY)} has no official Chinese "
            f"calendar for {year} yet; business-day SLAs in {year} assume Monday-Friday "
            f"minus the statutory public holidays, no make-up working days (调休), plus the "
            f"{holidays} holidays and {workdays} workdays config/risk.yaml gives for {year}"
        )

    def _build(self, year: int) -> frozenset[dt.date]:
        with self._lock:
            days = self._years.get(year)
            if days is not None:
                return days
            notice = self.unknown_year_notice(year)
            days = self._business_days(year)
            self._years[year] = days
        if notice is not None and self.warn is not None:
            self.warn(notice)
        return days

    def _business_days(self, year: int) -> frozenset[dt.date]:
        if self.official == "CN":
            off, on = _official_days(year, known=self.knows(year))
        else:
            off, on = frozenset(), frozenset()
        out = set()
        day = dt.date(year, 1, 1)
        one = dt.timedelta(days=1)
        while day.year == year:
            if (day.weekday() < 5 and day not in off) or day in on:
                out.add(day)
            day += one
        return frozenset((out - self.holidays) | {d for d in self.workdays if d.year == year})


#: Monday to Friday, nothing else: what the pure workflow machine assumes by default.
WEEKDAYS = BusinessCalendar(official="none")
