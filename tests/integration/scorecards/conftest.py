"""The hand-built book the scorecard tests share (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.users import set_user
from tests.integration.workflow.support import PEOPLE, contract_file, prepare
from tests.support import FrozenClock

DAY = dt.timedelta(days=1)
START = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)


def sign(rt: Runtime, view: lifecycle.ContractView) -> lifecycle.ContractView:
    """Approve every open task (by someone holding its role) until the contract is signed."""
    by_role = {role: name for name, roles in PEOPLE.items() for role in roles}
    while view.stage != "fulfilment":
        task = next(t for t in view.tasks if t.status == "open")
        view = lifecycle.act(rt, task.id, "approve", by_role[task.role])
    return view


def obligations(*rows: tuple[str, str, int | None]) -> list[dict[str, object]]:
    return [
        {
            "id": oid,
            "party": "counterparty" if amount else "us",
            "kind": "payment" if amount else "delivery",
            "description": f"obligation {oid}",
            "due": dt.date.fromisoformat(due),
            **({"amount": amount} if amount else {}),
        }
        for oid, due, amount in rows
    ]


@pytest.fixture
def book(rt: Runtime, clock: FrozenClock, tmp_path: Path) -> Runtime:
    """alice (team south): two signed contracts (cycles 2 and 5 days) with one obligation
    on time, one late, one overdue open, one due today; a third in review with an overdue
    obligation (not counted). anna (team north): one signed contract (cycle 4 days),
    nothing due in the period."""
    wrt = prepare(rt)
    set_user(wrt, "alice", team="south")
    set_user(wrt, "anna", team="north")
    clock.now = START
    a1 = lifecycle.submit(
        wrt,
        contract_file(
            tmp_path,
            "a1.yaml",
            id="SC-A1",
            title="Pumps [high]",
            obligations=obligations(
                ("OB-1", "2026-12-05", 720000),
                ("OB-2", "2026-12-20", None),
                ("OB-3", "2026-12-30", 1680000),
            ),
        ),
        "alice",
    )
    clock.now = START + 2 * DAY
    sign(wrt, a1)
    clock.now = START + 3 * DAY
    a2 = lifecycle.submit(
        wrt,
        contract_file(
            tmp_path,
            "a2.yaml",
            id="SC-A2",
            title="Valves",
            amount=500000,
            obligations=obligations(("OB-1", "2027-01-04", 500000)),
        ),
        "alice",
    )
    clock.now = START + 8 * DAY
    sign(wrt, a2)
    b = lifecycle.submit(
        wrt,
        contract_file(
            tmp_path,
            "b.yaml",
            id="SC-B",
            title="Motors",
            amount=300000,
            owner="anna",
            obligations=obligations(("OB-1", "2027-03-01", 300000)),
        ),
        "anna",
    )
    clock.now = START + 12 * DAY
    sign(wrt, b)
    lifecycle.submit(  # in review: its obligations are terms, not promises yet
        wrt,
        contract_file(
            tmp_path,
            "a3.yaml",
            id="SC-A3",
            title="Draft",
            amount=100000,
            obligations=obligations(("OB-1", "2026-12-10", 100000)),
        ),
        "alice",
    )
    clock.now = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
    lifecycle.fulfil_obligation(wrt, "SC-A1", "OB-1", "alice", on=dt.date(2026, 12, 5))
    lifecycle.fulfil_obligation(wrt, "SC-A1", "OB-2", "alice", on=dt.date(2026, 12, 28))
    return wrt
