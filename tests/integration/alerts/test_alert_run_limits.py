"""Limits on an alerts run (issue 18 items 9 and 12): no future `--as-of` without
`--force`, and a time budget that a slow or greylisting server cannot outlast."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from engine.errors import InvalidInput
from engine.services.alerts import list_alerts, run_alerts
from engine.store import models as m
from tests.integration.alerts.support import SmtpServer, add_contract
from tests.integration.cli_support import run_cli

TODAY = dt.date(2027, 3, 1)  # the alert clock's day


def _overdue(rt: Any, people: dict[str, int], count: int) -> None:
    with rt.db.transaction() as session:
        alice = session.get(m.User, people["alice"])
        add_contract(
            session,
            "SC-1",
            alice,
            [{"oid": f"OB-{i}", "due": TODAY - dt.timedelta(days=2)} for i in range(count)],
        )


def test_a_future_as_of_is_refused_without_force_and_plans_nothing(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    _overdue(rt, people, 1)
    with pytest.raises(InvalidInput, match=r"as_of: 2027-03-31 is in the future.*--force"):
        run_alerts(rt, TODAY + dt.timedelta(days=30))
    assert list_alerts(rt) == [] and smtp.messages == []
    assert run_alerts(rt, TODAY)["sent"] == 1  # today is fine
    result = run_alerts(rt, TODAY + dt.timedelta(days=30), force=True)
    assert result["sent"] == 1  # forced: the later level goes out now, as asked


def test_the_cli_refuses_a_future_as_of_in_one_line(
    db_url: str, tmp_path: Any, people: dict[str, int]
) -> None:
    # Two days ahead: "today" is Asia/Shanghai's, already tomorrow for UTC after 16:00.
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    result = run_cli("alerts", "run", "--as-of", future, db_url=db_url, CONTRACTFLOW_SMTP_PORT="1")
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and f"as_of: {future} is in the future" in result.stderr


def test_a_slow_server_stops_the_run_at_its_time_budget_leaving_the_rest_pending(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port, alerts_time_budget_seconds=0.5)
    _overdue(rt, people, 6)
    smtp.handler.delay = 0.3  # every DATA takes 0.3 s, as a tarpitting server's would
    started = time.monotonic()
    result = run_alerts(rt, TODAY)
    took = time.monotonic() - started
    assert took < 1.5, f"the run took {took:.1f} s with a 0.5 s budget"
    assert result["stopped_after_seconds"] == 1  # the budget, rounded up
    assert 1 <= result["sent"] < 6
    assert result["deferred"] == 6 - result["sent"]
    statuses = [a["status"] for a in list_alerts(rt)]
    assert statuses.count("pending") == 6 - result["sent"]
    assert all(a["attempts"] == 0 for a in list_alerts(rt) if a["status"] == "pending")
    smtp.handler.delay = 0
    assert run_alerts(rt, TODAY)["sent"] == 6 - result["sent"]  # the next run sends the rest
