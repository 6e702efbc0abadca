"""Business-day SLAs of stored tasks follow the official Chinese calendar with risk.yaml's
overrides, and a year without an official notice is told about once, at start-up."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from engine.cli import common
from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.settings import PROJECT_ROOT, Settings
from engine.web.app import create_app
from engine.workflow.calendar import _official_years
from tests.integration.workflow.support import contract_file, prepare
from tests.support import FrozenClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNKNOWN = max(_official_years()) + 1  # the first year the library has no notice for


def shanghai(year: int, month: int, day: int, hour: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=SHANGHAI)


def legal_due(rt: Runtime, tmp_path: Path, code: str) -> dt.datetime:
    """Submit a small fast-track contract (legal review due in 1bd); its legal task's due."""
    view = lifecycle.submit(
        rt,
        contract_file(tmp_path, f"{code}.yaml", id=code, amount=100000),
        "alice",
        workflow="fast_track",
    )
    due = next(t.due for t in view.tasks if t.role == "legal")
    assert due is not None
    return due.astimezone(SHANGHAI)


def test_a_task_opened_before_the_spring_festival_is_due_on_the_working_saturday(
    rt: Runtime, clock: FrozenClock, tmp_path: Path
) -> None:
    told: list[str] = []
    rt.warn = told.append
    prepare(rt)
    clock.now = shanghai(2026, 2, 13, 10)  # Friday before the 2026 Spring Festival
    assert legal_due(rt, tmp_path, "FT-1") == shanghai(2026, 2, 14, 10)  # Saturday, worked
    clock.now = shanghai(2026, 2, 14, 10)
    assert legal_due(rt, tmp_path, "FT-2") == shanghai(2026, 2, 24, 10)  # after 15-23 off
    assert told == []


def test_risk_yaml_workdays_and_holidays_override_the_official_days(
    settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    risk = config / "risk.yaml"
    text = risk.read_text(encoding="utf-8")
    text = text.replace("holidays: []", "holidays: [2026-02-14]")
    text = text.replace("workdays: []", "workdays: [2026-02-16, 2026-02-21]")
    risk.write_text(text, encoding="utf-8")
    rt = Runtime(settings.model_copy(update={"config_dir": config}), clock=clock)
    try:
        from engine.services.users import seed_roles

        with rt.db.transaction() as session:
            seed_roles(session)
        prepare(rt)
        clock.now = shanghai(2026, 2, 13, 10)
        # Saturday 14 is a local holiday, Monday 16 a local working day.
        assert legal_due(rt, tmp_path, "FT-3") == shanghai(2026, 2, 16, 10)
        clock.now = shanghai(2026, 2, 20, 10)  # an official holiday; Saturday 21 works here
        assert legal_due(rt, tmp_path, "FT-4") == shanghai(2026, 2, 21, 10)
    finally:
        rt.close()


def test_a_deadline_in_a_year_without_a_notice_is_told_once_with_the_assumption(
    rt: Runtime, clock: FrozenClock, tmp_path: Path
) -> None:
    told: list[str] = []
    rt.warn = told.append
    prepare(rt)
    clock.now = shanghai(UNKNOWN, 9, 30, 10)
    due = legal_due(rt, tmp_path, "FT-5")
    # Assumed: the statutory National Day holidays (1-3 October), no make-up days, and
    # whatever risk.yaml lists for the year.
    local = set(rt.risk_config.holidays)
    expected = dt.date(UNKNOWN, 10, 1)
    while expected.weekday() >= 5 or expected <= dt.date(UNKNOWN, 10, 3) or expected in local:
        expected += dt.timedelta(days=1)
    assert due == shanghai(expected.year, expected.month, expected.day, 10)
    legal_due(rt, tmp_path, "FT-6")
    assert len(told) == 1
    assert f"no official Chinese calendar for {UNKNOWN} yet" in told[0]
    assert "assume Monday-Friday minus the statutory public holidays" in told[0]


def test_serving_tells_at_start_up_about_a_year_deadlines_will_soon_reach(
    rt: Runtime, clock: FrozenClock
) -> None:
    told: list[str] = []
    rt.warn = told.append
    clock.now = shanghai(UNKNOWN - 1, 12, 20, 10)  # the next year is weeks away
    with TestClient(create_app(rt)) as client:
        assert client.get("/healthz").status_code == 200
    assert len(told) == 1 and f"for {UNKNOWN} yet" in told[0]
    told.clear()
    clock.now = shanghai(UNKNOWN - 1, 6, 1, 10)
    Runtime(rt.settings, clock=clock).check_calendar()  # a known year, the next far off
    assert told == []


def test_a_command_prints_the_unknown_year_as_one_warning_line_on_stderr(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONTRACTFLOW_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CONTRACTFLOW_DATA_DIR", str(settings.data_dir))
    with common.runtime() as rt:
        rt.calendar.is_business_day(dt.date(UNKNOWN, 5, 6))
        rt.calendar.is_business_day(dt.date(UNKNOWN, 5, 7))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("warning: business calendar: holidays ")
    assert f"for {UNKNOWN} yet" in err[0]
