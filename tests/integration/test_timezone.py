"""`CONTRACTFLOW_TIMEZONE`: "today" (due dates, alert levels, fulfilment dates), displayed
times and cron schedules are local; storage stays UTC."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.services.runtime import Runtime
from engine.settings import Settings
from engine.web.templating import date

EVENING_UTC = dt.datetime(2027, 1, 4, 20, 30, tzinfo=dt.UTC)  # 04:30 on the 5th in Shanghai


def test_the_shipped_default_is_shanghai_and_today_is_the_local_day(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert settings.timezone == "Asia/Shanghai"
    shanghai = Runtime(settings, clock=lambda: EVENING_UTC)
    utc = Runtime(
        Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", timezone="UTC"),
        clock=lambda: EVENING_UTC,
    )
    try:
        assert shanghai.today() == dt.date(2027, 1, 5)
        assert utc.today() == dt.date(2027, 1, 4)
    finally:
        shanghai.close()
        utc.close()


def test_an_unknown_time_zone_is_refused_with_its_name() -> None:
    with pytest.raises(ValidationError, match="'Mars/Olympus' is not a time zone"):
        Settings(timezone="Mars/Olympus")


def test_pages_show_times_in_the_local_zone() -> None:
    zone = Settings(timezone="Asia/Shanghai").zone
    assert date(EVENING_UTC, zone) == "2027-01-05 04:30"
    assert date("2027-01-04T20:30:00+00:00", zone) == "2027-01-05 04:30"
    assert date(dt.date(2027, 1, 4), zone) == "2027-01-04"


def test_cron_schedules_run_in_the_local_zone() -> None:
    from flows.serve import deployments

    settings = Settings(timezone="Asia/Shanghai", alerts_cron="0 7 * * *")
    daily = deployments(settings)[0]
    [schedule] = daily.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 7 * * *", "Asia/Shanghai")
