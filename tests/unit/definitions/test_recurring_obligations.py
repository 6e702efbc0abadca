"""Recurring obligations (`repeat`): deterministic expansion into occurrences with stable
ids, and every bad `repeat` named by its field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from engine.definitions.contracts import load_contract_file
from engine.domain.recurrence import add_months
from engine.errors import InvalidContract
from tests.support import EXAMPLES


def _file(tmp_path: Path, *obligations: dict[str, Any]) -> Path:
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load((EXAMPLES / "SC-2026-0042.yaml").read_text())
    data["obligations"] = list(obligations)
    path = tmp_path / "c.yaml"
    with path.open("w") as fh:
        yaml.dump(data, fh)
    return path


def _ob(**over: Any) -> dict[str, Any]:
    return {
        "id": "OB-1",
        "party": "counterparty",
        "kind": "payment",
        "due": "2027-01-31",
        "amount": 100,
        **over,
    }


def test_a_monthly_obligation_becomes_one_obligation_per_month_with_stable_ids(
    tmp_path: Path,
) -> None:
    path = _file(tmp_path, _ob(repeat={"every": "month", "until": "2027-05-31"}))
    contract = load_contract_file(path)
    assert [(o.id, o.due) for o in contract.obligations] == [
        ("OB-1#1", dt.date(2027, 1, 31)),
        ("OB-1#2", dt.date(2027, 2, 28)),  # clamped to the month's end, counted from the start
        ("OB-1#3", dt.date(2027, 3, 31)),
        ("OB-1#4", dt.date(2027, 4, 30)),
        ("OB-1#5", dt.date(2027, 5, 31)),
    ]
    assert all(o.repeat is None and o.amount == 100 for o in contract.obligations)
    # Expanding the same file again (a revision, an amendment) gives the same ids and dates.
    assert load_contract_file(path).obligations == contract.obligations


@pytest.mark.parametrize(
    ("every", "count", "last"),
    [("quarter", 5, dt.date(2028, 1, 31)), ("year", 2, dt.date(2028, 1, 31))],
)
def test_quarterly_and_yearly_series_end_on_or_before_until(
    tmp_path: Path, every: str, count: int, last: dt.date
) -> None:
    path = _file(tmp_path, _ob(repeat={"every": every, "until": "2028-01-31"}))
    obligations = load_contract_file(path).obligations
    assert len(obligations) == count and obligations[-1].due == last


def test_stored_occurrences_read_back_as_they_are(tmp_path: Path) -> None:
    path = _file(tmp_path, _ob(repeat={"every": "month", "until": "2027-03-31"}))
    contract = load_contract_file(path)
    again = type(contract).model_validate(contract.model_dump(mode="json"))
    assert [o.id for o in again.obligations] == ["OB-1#1", "OB-1#2", "OB-1#3"]


@pytest.mark.parametrize(
    ("repeat", "message"),
    [
        (
            {"every": "month", "until": "2026-12-31"},
            "obligations[0].repeat.until: 2026-12-31 is before due 2027-01-31",
        ),
        (
            {"every": "fortnight", "until": "2027-12-31"},
            "obligations[0].repeat.every: 'fortnight' is not one of",
        ),
        ({"every": "month"}, "obligations[0].repeat.until: required"),
        (
            {"every": "month", "until": "2027-12-31", "count": 3},
            "obligations[0].repeat.count: unknown key",
        ),
        (
            {"every": "month", "until": "2099-12-31"},
            "obligations[0].repeat.until: more than 600 occurrences",
        ),
    ],
    ids=["until-before-due", "unknown-period", "no-until", "unknown-key", "too-many"],
)
def test_a_bad_repeat_is_refused_naming_the_field(
    tmp_path: Path, repeat: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidContract) as err:
        load_contract_file(_file(tmp_path, _ob(repeat=repeat)))
    assert any(message in p for p in err.value.problems), err.value.problems


def test_an_occurrence_id_written_by_hand_cannot_collide_with_a_series(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        _ob(repeat={"every": "month", "until": "2027-03-31"}),
        _ob(id="OB-1#2", due="2027-06-30"),
    )
    with pytest.raises(InvalidContract) as err:
        load_contract_file(path)
    assert any("id OB-1#2 is used more than once" in p for p in err.value.problems)


def test_months_are_added_with_the_day_clamped() -> None:
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2027, 11, 30), 3) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2027, 12, 15), 1) == dt.date(2028, 1, 15)
