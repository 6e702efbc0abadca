"""Cron schedules are checked when the settings load, with Prefect's own grammar."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.cron import cron_problem
from engine.settings import Settings, settings_problems

GOOD = [
    "0 7 * * *",
    "*/15 * * * *",
    "30 2 * * 1-5",
    "0 0 1 jan,jul *",
    "0 9 * * mon-fri",
    "@daily",
    "@hourly",
    "0 0 * * 7",
    "5,10,15 1-3/2 * * *",
]
BAD = [
    "every day",
    "0 7 * *",
    "61 * * * *",
    "0 24 * * *",
    "0 0 0 * *",
    "0 0 * 13 *",
    "*/0 * * * *",
    "0 0 * * funday",
    "5-1 * * * *",
    "0 7 * * * *",
    "",
]


@pytest.mark.parametrize("expression", GOOD)
def test_a_valid_cron_expression_is_accepted_by_us_and_by_prefect(expression: str) -> None:
    from prefect._internal.schemas.validators import validate_cron_string

    assert cron_problem(expression) is None
    validate_cron_string(expression)


@pytest.mark.parametrize("expression", BAD)
def test_an_invalid_cron_expression_is_refused_with_a_reason(expression: str) -> None:
    assert cron_problem(expression)


@pytest.mark.parametrize("setting", ["alerts_cron", "escalations_cron", "rescore_cron"])
def test_a_mistyped_cron_setting_fails_at_load_naming_the_variable(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"CONTRACTFLOW_{setting.upper()}", "every day")
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)
    problems = settings_problems(info.value)
    assert problems == [
        f"CONTRACTFLOW_{setting.upper()}: 'every day' is not a cron expression: it needs 5 "
        "fields (minute hour day-of-month month day-of-week), e.g. '0 7 * * *'"
    ]


def test_settings_problems_ignores_errors_that_are_not_the_settings() -> None:
    assert settings_problems(ValueError("x")) is None
