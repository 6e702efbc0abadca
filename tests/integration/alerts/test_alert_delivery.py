"""The alert job against a real SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from engine.errors import Conflict, NotFound
from engine.services.alerts import (
    list_alerts,
    plan_alerts,
    retry_alert,
    run_alerts,
    send_alerts,
)
from engine.services.outbox import enqueue
from engine.store import models as m
from tests.integration.alerts.support import SmtpServer, add_contract, free_port

AS_OF = dt.date(2027, 3, 1)


def day(offset: int) -> dt.date:
    """A due date `offset` days after the planning date (negative: overdue)."""
    return AS_OF + dt.timedelta(days=offset)


def portfolio(rt: Any, people: dict[str, int]) -> None:
    """One contract with an obligation in every band, and some that must stay quiet."""
    with rt.db.transaction() as session:
        alice = session.get(m.User, people["alice"])
        add_contract(
            session,
            "SC-2027-0001",
            alice,
            [
                {"oid": "OB-SOON", "due": day(7), "amount": Decimal("720000.00")},
                {"oid": "OB-TODAY", "due": day(0)},
                {"oid": "OB-LATE", "due": day(-1), "owner": "bob"},
                {"oid": "OB-HIGH", "due": day(-15)},
                {"oid": "OB-CRIT", "due": day(-61), "owner": "bob"},
                {"oid": "OB-FAR", "due": day(8)},
                {"oid": "OB-DONE", "due": day(-3), "status": "fulfilled", "fulfilled_on": day(-4)},
                {"oid": "OB-WAIVED", "due": day(-90), "status": "waived"},
            ],
        )


def by_obligation(smtp: SmtpServer) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for msg in smtp.messages:
        key = msg.message["X-Contractflow-Alert"]
        oid = key.split(":")[2]
        assert oid not in found, f"two messages for {oid}"
        found[oid] = msg
    return found


def test_each_obligation_is_emailed_at_its_level_to_exactly_its_people(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    portfolio(rt, people)

    assert run_alerts(rt, AS_OF) == {"sent": 5, "skipped_duplicates": 0, "failed": 0}

    got = by_obligation(smtp)
    assert sorted(got) == ["OB-CRIT", "OB-HIGH", "OB-LATE", "OB-SOON", "OB-TODAY"]
    assert got["OB-SOON"].recipients == ["alice@example.com"]
    assert got["OB-TODAY"].recipients == ["alice@example.com"]
    assert got["OB-LATE"].recipients == ["alice@example.com", "bob@example.com"]
    assert got["OB-HIGH"].recipients == ["alice@example.com"]
    assert got["OB-CRIT"].recipients == [
        "alice@example.com",
        "bob@example.com",
        "maria@example.com",
        "mike@example.com",
    ]
    levels = {oid: msg.message["X-Contractflow-Alert"].split(":")[3] for oid, msg in got.items()}
    assert levels == {
        "OB-SOON": "due_soon",
        "OB-TODAY": "due_soon",
        "OB-LATE": "overdue",
        "OB-HIGH": "overdue_high",
        "OB-CRIT": "overdue_critical",
    }
    for oid, msg in got.items():
        assert "SC-2027-0001" in msg.subject and oid in msg.subject
        assert msg.mail_from == "contractflow@alerts.example.com"


def test_running_the_job_twice_sends_nothing_new(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    portfolio(rt, people)
    run_alerts(rt, AS_OF)

    assert run_alerts(rt, AS_OF) == {"sent": 0, "skipped_duplicates": 5, "failed": 0}
    assert len(smtp.messages) == 5


def test_a_later_date_sends_the_next_level_only(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        alice = session.get(m.User, people["alice"])
        add_contract(session, "SC-1", alice, [{"oid": "OB-1", "due": day(3)}])

    def levels_sent() -> list[str]:
        return [msg.message["X-Contractflow-Alert"].split(":")[3] for msg in smtp.messages]

    run_alerts(rt, AS_OF)  # due in 3 days
    assert levels_sent() == ["due_soon"]
    run_alerts(rt, day(5), force=True)  # 2 days late
    assert levels_sent() == ["due_soon", "overdue"]
    run_alerts(rt, day(10), force=True)  # still in the overdue band: nothing
    assert levels_sent() == ["due_soon", "overdue"]
    run_alerts(rt, day(3 + 61), force=True)  # jumps past "high": only the current level goes out
    assert levels_sent() == ["due_soon", "overdue", "overdue_critical"]
    assert sorted(smtp.messages[-1].recipients) == [
        "alice@example.com",
        "maria@example.com",
        "mike@example.com",
    ]


def test_the_message_names_the_contract_and_carries_a_calendar_entry(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        alice = session.get(m.User, people["alice"])
        add_contract(
            session,
            "SC-2027-0042",
            alice,
            [
                {
                    "oid": "OB-7",
                    "due": day(-20),
                    "amount": Decimal("1234567.50"),
                    "description": "Balance <on> delivery",
                }
            ],
            title="Pumps & <script>alert(1)</script>",
            counterparty="Huadong Machinery Co., Ltd.",
        )
    run_alerts(rt, AS_OF)
    [msg] = smtp.messages
    assert msg.subject == "Overdue (high): contract SC-2027-0042, obligation OB-7 due 2027-02-09"
    [row] = list_alerts(rt)
    assert msg.message_id == row["message_id"]

    text = msg.part("text/plain")
    for expected in (
        "SC-2027-0042",
        "Pumps & <script>alert(1)</script>",
        "Huadong Machinery Co., Ltd.",
        "OB-7",
        "1,234,567.50 CNY",
        "2027-02-09",
        "Days overdue:  20",
        "https://cf.example.com/contracts/SC-2027-0042",
    ):
        assert expected in text
    html = msg.part("text/html")
    assert "Pumps &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "Balance &lt;on&gt; delivery" in html
    assert 'href="https://cf.example.com/contracts/SC-2027-0042"' in html

    ics = next(p for p in msg.message.walk() if p.get_content_type() == "text/calendar")
    assert ics.get_filename() == "due-date.ics"
    body = ics.get_content()
    assert "DTSTART;VALUE=DATE:20270209" in body
    assert f"UID:{row['message_id'].strip('<>')}" in body


def test_no_link_without_a_base_url(make_rt: Any, people: dict[str, int], smtp: SmtpServer) -> None:
    rt = make_rt(smtp.port, base_url=None)
    with rt.db.transaction() as session:
        add_contract(
            session, "SC-9", session.get(m.User, people["alice"]), [{"oid": "A", "due": day(1)}]
        )
    run_alerts(rt, AS_OF)
    assert "http" not in smtp.messages[0].part("text/plain")


def test_one_connection_carries_the_whole_batch(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        alice = session.get(m.User, people["alice"])
        add_contract(
            session, "SC-BULK", alice, [{"oid": f"OB-{i}", "due": day(-i)} for i in range(40)]
        )
    assert run_alerts(rt, AS_OF)["sent"] == 40
    assert smtp.handler.sessions == 1


def test_each_message_is_marked_sent_before_the_server_can_accept_the_next(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound behind "at most one duplicate per crash": the "sent" mark of a message is
    committed before the next message's content reaches the server, although the sender
    overlaps that mark with the next message's envelope. On PostgreSQL each mark is made to
    take 20 ms, far longer than the envelope's round trips, so a sender that did not wait
    for it would be caught here."""
    from engine.services import delivery
    from engine.store.db import Database

    if make_rt(smtp.port).db.dialect == "postgresql":
        plain = delivery._outcome_update

        def slow(row_id: int, values: dict[str, object]) -> tuple[bytes, list[bytes | None]]:
            sql, params = plain(row_id, values)
            return sql + b" AND pg_sleep(0.02) IS NOT NULL", params

        monkeypatch.setattr(delivery, "_outcome_update", slow)
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        add_contract(
            session,
            "SC-ORDER",
            session.get(m.User, people["alice"]),
            [{"oid": f"OB-{i}", "due": day(-i)} for i in range(12)],
        )
    assert plan_alerts(rt, AS_OF).planned == 12
    observer = Database(rt.settings.database_url)
    accepted: list[str] = []
    unmarked: list[str] = []

    def check(content: bytes) -> None:
        with observer.sessions() as session:
            sent = set(
                session.scalars(select(m.OutboxMessage.key).where(m.OutboxMessage.status == "sent"))
            )
        unmarked.extend(key for key in accepted if key not in sent)
        accepted.append(email.message_from_bytes(content)["X-Contractflow-Alert"])

    smtp.handler.before_accept = check
    try:
        assert send_alerts(rt).sent == 12
    finally:
        observer.dispose()
    assert len(accepted) == 12
    assert unmarked == []


def test_a_mail_server_that_is_down_loses_nothing(make_rt: Any, people: dict[str, int]) -> None:
    port = free_port()
    rt = make_rt(port)
    portfolio(rt, people)

    down = run_alerts(rt, AS_OF, backoff=0.01)
    assert down == {"sent": 0, "skipped_duplicates": 0, "failed": 5}
    pending = list_alerts(rt, "pending")
    assert len(pending) == 5
    assert any("unavailable" in (r["last_error"] or "") for r in pending)

    server = SmtpServer(port).start()
    try:
        assert run_alerts(rt, AS_OF) == {"sent": 5, "skipped_duplicates": 5, "failed": 0}
        assert len(server.messages) == 5
        assert list_alerts(rt, "pending") == []
    finally:
        server.stop()


def test_a_deferral_451_is_retried_and_sent(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        add_contract(
            session, "SC-1", session.get(m.User, people["alice"]), [{"oid": "A", "due": day(-2)}]
        )
    smtp.handler.replies = ["451 4.3.0 Try again later", "250 OK"]

    assert run_alerts(rt, AS_OF, backoff=0.01) == {"sent": 1, "skipped_duplicates": 0, "failed": 0}
    assert len(smtp.messages) == 1
    [row] = list_alerts(rt)
    assert row["status"] == "sent"


def test_a_deferral_that_persists_waits_for_a_later_run(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer, alert_clock: Any
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        add_contract(
            session, "SC-1", session.get(m.User, people["alice"]), [{"oid": "A", "due": day(-2)}]
        )
    smtp.handler.replies = ["451 4.3.0 Greylisted"] * 4

    assert run_alerts(rt, AS_OF, backoff=0.01)["failed"] == 1
    [row] = list_alerts(rt)
    assert row["status"] == "pending" and row["last_error"] == "451 4.3.0 Greylisted"
    assert run_alerts(rt, AS_OF)["sent"] == 0  # backing off: not yet
    alert_clock.now += dt.timedelta(minutes=6)
    assert run_alerts(rt, AS_OF)["sent"] == 1


def test_a_refusal_550_is_recorded_failed_with_the_reply_and_can_be_retried(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        add_contract(
            session, "SC-1", session.get(m.User, people["alice"]), [{"oid": "A", "due": day(-2)}]
        )
    smtp.handler.replies = ["550 5.1.1 Mailbox unavailable"]

    assert run_alerts(rt, AS_OF) == {"sent": 0, "skipped_duplicates": 0, "failed": 1}
    [row] = list_alerts(rt, "failed")
    assert row["last_error"] == "550 5.1.1 Mailbox unavailable"
    assert smtp.messages == []
    assert run_alerts(rt, AS_OF) == {"sent": 0, "skipped_duplicates": 1, "failed": 0}

    again = retry_alert(rt, row["id"])
    assert again["status"] == "pending"
    assert run_alerts(rt, AS_OF)["sent"] == 1
    assert smtp.messages[0].message_id == row["message_id"]
    with pytest.raises(Conflict):
        retry_alert(rt, row["id"])
    with pytest.raises(NotFound):
        retry_alert(rt, 999_999)


def test_an_owner_without_an_email_address_is_a_failure_the_operator_sees(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        add_contract(
            session, "SC-1", session.get(m.User, people["nomail"]), [{"oid": "A", "due": day(-2)}]
        )
    assert run_alerts(rt, AS_OF)["failed"] == 1
    [row] = list_alerts(rt, "failed")
    assert "no recipient has an email address" in row["last_error"]


def test_task_escalations_queued_by_the_workflow_are_delivered(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        contract = add_contract(session, "SC-1", session.get(m.User, people["alice"]), [])
        enqueue(
            session,
            key="task:1:escalated",
            kind="task_escalation",
            level="escalated",
            recipients=["maria@example.com"],
            subject="Task overdue: SC-1 legal review",
            payload={"contract": "SC-1", "stage": "legal_review", "role": "legal"},
            contract_id=contract.id,
        )
    assert run_alerts(rt, AS_OF) == {"sent": 1, "skipped_duplicates": 0, "failed": 0}
    [msg] = smtp.messages
    assert msg.recipients == ["maria@example.com"]
    assert msg.subject == "Task overdue: SC-1 legal review"
    assert "legal_review" in msg.part("text/plain")
    assert "https://cf.example.com/contracts/SC-1" in msg.part("text/html")


def test_planning_writes_one_row_per_obligation_and_level(
    make_rt: Any, people: dict[str, int]
) -> None:
    rt = make_rt(free_port())
    portfolio(rt, people)
    first = plan_alerts(rt, AS_OF)
    second = plan_alerts(rt, AS_OF)
    assert (first.planned, first.skipped_duplicates) == (5, 0)
    assert (second.planned, second.skipped_duplicates) == (0, 5)
    with rt.db.sessions() as session:
        keys = Counter(session.scalars(select(m.OutboxMessage.key)))
    assert all(n == 1 for n in keys.values()) and len(keys) == 5


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_sender_logs_in_when_a_user_is_configured(make_rt: Any, people: dict[str, int]) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret", handled=False)

    server = SmtpServer()
    controller = Controller(
        server.handler,
        hostname="127.0.0.1",
        port=server.port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        rt = make_rt(server.port, smtp_user="mailer", smtp_password="s3cret")
        with rt.db.transaction() as session:
            add_contract(
                session,
                "SC-1",
                session.get(m.User, people["alice"]),
                [{"oid": "A", "due": day(-2)}],
            )
        assert run_alerts(rt, AS_OF)["sent"] == 1
        assert logins == [(b"mailer", b"s3cret")]

        wrong = make_rt(server.port, smtp_user="mailer", smtp_password="nope")
        with wrong.db.transaction() as session:
            add_contract(
                session,
                "SC-2",
                session.get(m.User, people["alice"]),
                [{"oid": "A", "due": day(-2)}],
            )
        assert run_alerts(wrong, AS_OF)["failed"] == 1
        [row] = list_alerts(wrong, "pending")
        assert "login as 'mailer' refused: 535" in row["last_error"]
    finally:
        controller.stop()


def test_planned_levels_match_the_bands_day_by_day(make_rt: Any, people: dict[str, int]) -> None:
    """The SQL bands and `Bands.level_of` (the documented table) agree on every offset."""
    from engine.services.alert_planning import Bands

    rt = make_rt(free_port())
    offsets = range(-70, 12)
    with rt.db.transaction() as session:
        add_contract(
            session,
            "SC-BANDS",
            session.get(m.User, people["alice"]),
            [{"oid": f"D{o + 100}", "due": day(o)} for o in offsets],
        )
    plan_alerts(rt, AS_OF)
    with rt.db.sessions() as session:
        planned = {
            row.key.split(":")[2]: row.level for row in session.scalars(select(m.OutboxMessage))
        }
    bands = Bands.for_date(AS_OF, rt.risk_config)
    expected = {
        f"D{o + 100}": level for o in offsets if (level := bands.level_of(day(o))) is not None
    }
    assert planned == expected
    assert set(expected.values()) == {"due_soon", "overdue", "overdue_high", "overdue_critical"}


def test_two_jobs_at_once_still_send_each_alert_once(
    make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    """Two alert jobs racing (two workers, or a manual run during the scheduled one)."""
    import threading

    first, second = make_rt(smtp.port), make_rt(smtp.port)
    with first.db.transaction() as session:
        add_contract(
            session,
            "SC-RACE",
            session.get(m.User, people["alice"]),
            [{"oid": f"OB-{i}", "due": day(-i)} for i in range(60)],
        )
    smtp.handler.delay = 0.002
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def job(rt: Any) -> None:
        try:
            results.append(run_alerts(rt, AS_OF, batch_size=5))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(rt,)) for rt in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(r["sent"] for r in results) == 60
    keys = Counter(msg.message["X-Contractflow-Alert"] for msg in smtp.messages)
    assert len(keys) == 60 and set(keys.values()) == {1}
