"""Scorecard rows pinned against hand-built contracts, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.services.access import acting_principal
from engine.services.runtime import Runtime
from engine.services.scorecards import (
    cycle_query,
    median_by_rank,
    median_percentile_cont,
    overdue_trend,
    scorecard,
)


def rows_by(card: object, key: str) -> dict[str, dict[str, object]]:
    return {r[key]: r for r in (row.printed(card.by) for row in card.rows)}  # type: ignore[attr-defined]


def test_each_definition_on_a_hand_built_book(book: Runtime) -> None:
    card = scorecard(book, None, start=dt.date(2026, 11, 1), end=dt.date(2027, 1, 4))
    rows = rows_by(card, "owner")
    assert rows["alice"] == {
        "owner": "alice",
        "contracts_active": 3,  # SC-A1, SC-A2 and the one in review
        "obligations_due": 4,  # the draft's obligation is not due: not signed
        "fulfilled_on_time": 1,  # OB-1 on its due date
        "fulfilled_late": 1,  # OB-2 eight days late
        "overdue_open": 1,  # OB-3; SC-A2's OB-1 is due today, not overdue yet
        "on_time_rate": 33.3,
        "overdue_amount": "1680000.00",
        "median_cycle_days": 3.5,  # 2 and 5 days
        "tasks_escalated": 0,
        "high_flags": 1,  # "[high]" in SC-A1's title
    }
    assert rows["anna"]["obligations_due"] == 0
    assert rows["anna"]["on_time_rate"] is None  # nothing due: no rate
    assert rows["anna"]["median_cycle_days"] == 4.0
    assert [r.owner for r in card.rows] == ["alice", "anna"]  # a rate ranks above none


def test_an_obligation_fulfilled_after_the_period_was_overdue_at_its_end(book: Runtime) -> None:
    card = scorecard(book, None, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 25))
    alice = rows_by(card, "owner")["alice"]
    assert (alice["fulfilled_on_time"], alice["fulfilled_late"], alice["overdue_open"]) == (1, 0, 1)
    assert alice["on_time_rate"] == 50.0
    assert alice["overdue_amount"] == "0.00"  # OB-2 is a delivery: no amount
    assert alice["median_cycle_days"] is None  # nothing signed in December


def test_rows_by_team_and_what_a_sales_person_may_see(book: Runtime) -> None:
    card = scorecard(book, None, by="team", start=dt.date(2026, 11, 1), end=dt.date(2027, 1, 4))
    teams = rows_by(card, "team")
    assert set(teams) == {"south", "north"}
    assert teams["south"]["on_time_rate"] == 33.3
    assert "owner" not in teams["south"]
    anna = acting_principal(book, "anna")
    mine = scorecard(book, anna, start=dt.date(2026, 11, 1), end=dt.date(2027, 1, 4))
    assert [r.owner for r in mine.rows] == ["anna"]


def test_the_overdue_amount_trend_at_each_month_end(book: Runtime) -> None:
    trend = overdue_trend(book, None, dt.date(2026, 11, 1), dt.date(2027, 1, 4))
    assert [(t.month, t.overdue_amount) for t in trend] == [
        ("2026-11", Decimal("0.00")),
        ("2026-12", Decimal("1680000.00")),  # OB-3 due 12-30; OB-1 paid on time
        ("2027-01", Decimal("1680000.00")),
    ]


def test_median_by_rank_agrees_with_percentile_cont(book: Runtime) -> None:
    with book.db.reads() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("percentile_cont is PostgreSQL's")
        first = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
        after = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
        for by in ("owner", "team"):
            cycles = cycle_query(session, by, first, after)
            cont = dict(session.execute(median_percentile_cont(cycles)).all())
            ranked = dict(session.execute(median_by_rank(cycles)).all())
            assert cont.keys() == ranked.keys()
            assert cont, "no signed contracts to compare"
            for key in cont:
                assert float(cont[key]) == pytest.approx(float(ranked[key]))
