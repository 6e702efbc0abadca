"""Expiry and renewal-notice alerts (SPEC section 8): once per contract and level through
the outbox, with the end date or notice deadline as a calendar file, missed levels sent on
the next run, none for terminated or closed contracts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from engine.definitions.riskconfig import load_risk_config
from engine.errors import InvalidDefinition
from engine.services.alerts import run_alerts
from engine.store import models as m
from tests.integration.alerts.support import SmtpServer, add_contract

END = dt.date(2027, 6, 30)


def _contract(rt: Any, people: dict[str, int], code: str, **kw: Any) -> None:
    with rt.db.transaction() as session:
        add_contract(session, code, session.get(m.User, people["alice"]), [], end_date=END, **kw)


def _keys(rt: Any) -> list[str]:
    with rt.db.sessions() as session:
        return sorted(
            session.scalars(
                select(m.OutboxMessage.key).where(m.OutboxMessage.key.like("contract:%"))
            )
        )


def test_each_expiry_level_is_sent_once_with_the_end_date_in_a_calendar_file(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    _contract(rt, people, "SC-EXP-1")
    assert run_alerts(rt, END - dt.timedelta(days=91), force=True)["sent"] == 0
    assert run_alerts(rt, END - dt.timedelta(days=90), force=True)["sent"] == 1
    assert run_alerts(rt, END - dt.timedelta(days=89), force=True) == {
        "sent": 0,
        "skipped_duplicates": 1,
        "failed": 0,
        "deferred": 0,
    }
    [msg] = smtp.messages
    assert "SC-EXP-1" in msg.subject and "90 days" in msg.subject
    assert msg.recipients == ["alice@example.com"]
    ics = next(p for p in msg.message.walk() if p.get_content_type() == "text/calendar")
    assert "DTSTART;VALUE=DATE:20270630" in ics.get_payload(decode=True).decode()
    # The job did not run on the 60-day mark: the level is sent on the next run.
    assert run_alerts(rt, END - dt.timedelta(days=55), force=True)["sent"] == 1
    assert _keys(rt) == [f"contract:{_id(rt, 'SC-EXP-1')}:expiring:{d}" for d in (60, 90)]


def _id(rt: Any, code: str) -> int:
    with rt.db.sessions() as session:
        return int(session.scalar(select(m.Contract.id).where(m.Contract.code == code)) or 0)


def test_the_last_level_also_tells_contract_managers(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    _contract(rt, people, "SC-EXP-2")
    assert (
        run_alerts(rt, END - dt.timedelta(days=10), force=True)["sent"] == 3
    )  # 90, 60 and 30: all missed
    last = next(msg for msg in smtp.messages if "30 days" in msg.subject)
    assert sorted(last.recipients) == ["alice@example.com", "maria@example.com", "mike@example.com"]
    first = next(msg for msg in smtp.messages if "90 days" in msg.subject)
    assert first.recipients == ["alice@example.com"]


def test_an_auto_renewal_contract_gets_its_notice_deadline_alert(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    _contract(rt, people, "SC-EXP-3", auto_renewal=True, renewal_notice_days=120)
    deadline = END - dt.timedelta(days=120)
    assert run_alerts(rt, deadline - dt.timedelta(days=8), force=True)["sent"] == 0
    assert run_alerts(rt, deadline - dt.timedelta(days=7), force=True)["sent"] == 1
    assert run_alerts(rt, deadline - dt.timedelta(days=1), force=True)["sent"] == 0
    [msg] = smtp.messages
    assert "SC-EXP-3" in msg.subject and "Renewal notice" in msg.subject
    ics = next(p for p in msg.message.walk() if p.get_content_type() == "text/calendar")
    assert f"DTSTART;VALUE=DATE:{deadline:%Y%m%d}" in ics.get_payload(decode=True).decode()


@pytest.mark.parametrize("status", ["terminated", "closed"])
def test_terminated_and_closed_contracts_get_no_alerts(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer, status: str
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        row = add_contract(
            session,
            "SC-EXP-4",
            session.get(m.User, people["alice"]),
            [{"oid": "OB-1", "due": END - dt.timedelta(days=20)}],
            end_date=END,
            auto_renewal=True,
        )
        session.execute(update(m.Contract).where(m.Contract.id == row.id).values(status=status))
    assert run_alerts(rt, END - dt.timedelta(days=5), force=True) == {
        "sent": 0,
        "skipped_duplicates": 0,
        "failed": 0,
        "deferred": 0,
    }
    assert smtp.messages == []


@pytest.mark.parametrize(
    ("value", "message"),
    [("[90, 0]", "expiry_alert_days[1]"), ("[30, 30]", "once"), ("[]", "expiry_alert_days")],
)
def test_bad_expiry_alert_days_are_refused_with_file_and_line(
    tmp_path: Path, value: str, message: str
) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(f"base_currency: CNY\nexpiry_alert_days: {value}\n")
    with pytest.raises(InvalidDefinition) as err:
        load_risk_config(path)
    assert any(f"{path}:2:" in line and message in line for line in err.value.lines())
