"""Rendering alert emails from the shipped templates (no database, no server)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from engine.notify.ics import due_date_event
from engine.notify.message import build_message
from engine.notify.render import RenderedEmail, format_money, render_email
from engine.settings import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates" / "email"
PAYLOAD = {
    "contract": "SC-2027-0042",
    "title": "供应 40 台离心泵 & <b>pumps</b>",
    "counterparty": "Huadong Machinery Co., Ltd.",
    "obligation": "OB-2",
    "obligation_kind": "payment",
    "party": "counterparty",
    "description": "Balance on delivery",
    "amount": "1680000.00",
    "currency": "CNY",
    "due": "2027-02-28",
    "as_of": "2027-03-05",
}


def render(level: str = "overdue", base_url: str | None = "https://cf.example.com") -> object:
    return render_email(
        TEMPLATES,
        kind="obligation_alert",
        level=level,
        subject="Overdue: contract SC-2027-0042, obligation OB-2 due 2027-02-28",
        payload=PAYLOAD,
        base_url=base_url,
        uid="<obligation.1.OB-2.overdue@example.com>",
        mail_from="cf@example.com",
    )


def test_the_text_body_names_everything_a_reader_needs() -> None:
    text = render().text  # type: ignore[attr-defined]
    for expected in (
        "Overdue: obligation OB-2 of contract SC-2027-0042",
        "供应 40 台离心泵 & <b>pumps</b>",
        "Huadong Machinery Co., Ltd.",
        "1,680,000.00 CNY",
        "Due date:      2027-02-28",
        "Days overdue:  5 (as of 2027-03-05)",
        "https://cf.example.com/contracts/SC-2027-0042",
    ):
        assert expected in text


def test_html_is_escaped_and_links_only_with_a_base_url() -> None:
    html = render().html  # type: ignore[attr-defined]
    assert "&amp; &lt;b&gt;pumps&lt;/b&gt;" in html and "<b>pumps</b>" not in html
    assert 'href="https://cf.example.com/contracts/SC-2027-0042"' in html
    assert "href" not in render(base_url=None).html  # type: ignore[attr-defined]


def test_due_soon_says_how_many_days_are_left() -> None:
    payload_as_of = {**PAYLOAD, "as_of": "2027-02-25"}
    rendered = render_email(
        TEMPLATES,
        kind="obligation_alert",
        level="due_soon",
        subject="s",
        payload=payload_as_of,
        base_url=None,
        uid="<x@y>",
        mail_from="cf@example.com",
    )
    assert "Days left:     3 (as of 2027-02-25)" in rendered.text


def test_the_calendar_file_is_an_all_day_event_with_a_stable_uid() -> None:
    ics = due_date_event(
        uid="<obligation.1.OB-2.overdue@example.com>",
        due=dt.date(2027, 2, 28),
        summary="SC-1 OB-2; payment, balance",
        description="x" * 200,
        organizer="cf@example.com",
    ).decode()
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert "UID:obligation.1.OB-2.overdue@example.com\r\n" in ics  # as given
    assert "DTSTART;VALUE=DATE:20270228\r\nDTEND;VALUE=DATE:20270301\r\n" in ics
    assert "SUMMARY:SC-1 OB-2\\; payment\\, balance\r\n" in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))  # folded


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def test_the_message_carries_its_stable_id_both_bodies_and_the_attachment() -> None:
    data = build_message(
        render(),  # type: ignore[arg-type]
        mail_from="cf@example.com",
        recipients=["a@example.com", "b@example.com"],
        message_id="<obligation.1.OB-2.overdue@example.com>",
        date=dt.datetime(2027, 3, 5, 7, tzinfo=dt.UTC),
        key="obligation:1:OB-2:overdue",
    )
    parsed = parse(data)
    assert parsed["Message-ID"] == "<obligation.1.OB-2.overdue@example.com>"
    assert parsed["To"] == "a@example.com, b@example.com"
    assert parsed["From"] == "cf@example.com"
    assert parsed["Date"] == "Fri, 05 Mar 2027 07:00:00 +0000"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Contractflow-Alert"] == "obligation:1:OB-2:overdue"
    types = [p.get_content_type() for p in parsed.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    assert all(not p.defects for p in parsed.walk())
    rendered = render()
    assert parsed.get_body(("plain",)).get_content() == rendered.text  # type: ignore[union-attr,attr-defined]
    assert parsed.get_body(("html",)).get_content() == rendered.html  # type: ignore[union-attr,attr-defined]
    (calendar,) = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert calendar.get_filename() == "due-date.ics"
    assert calendar.get_param("method") == "PUBLISH"
    assert calendar.get_content() == rendered.ics.decode()  # type: ignore[attr-defined]
    # The wire form: CRLF line ends only, no line over 78 characters, no line an SMTP server
    # would take for the end of the message.
    lines = data.split(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 78
    assert not any(line.startswith(b".") for line in lines)


def test_a_message_without_a_calendar_file_is_just_the_two_alternatives() -> None:
    rendered = RenderedEmail(subject="Task 7 is past its SLA", text="plain\n", html="<p>x</p>")
    parsed = parse(
        build_message(
            rendered,
            mail_from="cf@example.com",
            recipients=["a@example.com"],
            message_id="<task.7@example.com>",
            date=dt.datetime(2027, 3, 5, tzinfo=dt.UTC),
            key="task:7",
        )
    )
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert parsed.get_body(("plain",)).get_content() == "plain\n"  # type: ignore[union-attr]
    assert parsed["Subject"] == "Task 7 is past its SLA"


def test_long_headers_are_folded_and_read_back_whole() -> None:
    recipients = [f"contract.manager.{i}@subsidiary-{i}.example.com" for i in range(40)]
    subject = "Overdue (critical): contract SC-2027-0042-FRAMEWORK-AGREEMENT, obligation OB-17 due 2026-12-20"
    rendered = render()
    object.__setattr__(rendered, "subject", subject)
    data = build_message(
        rendered,  # type: ignore[arg-type]
        mail_from="cf@example.com",
        recipients=recipients,
        message_id="<x@y>",
        date=dt.datetime(2027, 3, 5, tzinfo=dt.UTC),
        key="k",
    )
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    parsed = parse(data)
    assert parsed["Subject"] == subject
    assert [a.addr_spec for a in parsed["To"].addresses] == recipients


def test_non_ascii_subjects_are_encoded() -> None:
    rendered = render()
    object.__setattr__(rendered, "subject", "Overdue: 供应合同 SC-1")
    data = build_message(
        rendered,  # type: ignore[arg-type]
        mail_from="cf@example.com",
        recipients=["a@example.com"],
        message_id="<x@y>",
        date=dt.datetime(2027, 3, 5, tzinfo=dt.UTC),
        key="k",
    )
    assert data.isascii()
    assert b"Subject: =?utf-8?" in data
    assert parse(data)["Subject"] == "Overdue: 供应合同 SC-1"


def test_money_is_grouped_with_two_decimals() -> None:
    assert format_money("1234567.5") == "1,234,567.50"
    assert format_money(None) == ""
    assert format_money("n/a") == "n/a"


def test_other_kinds_fall_back_to_the_generic_email() -> None:
    other = render_email(
        TEMPLATES,
        kind="some_future_kind",
        level="sla",
        subject="Something",
        payload={"contract": "SC-2027-0042", "task": 7, "role": "legal", "stage": "<b>x</b>"},
        base_url=None,
        uid="<x.7@example.com>",
        mail_from="cf@example.com",
    )
    assert "role: legal" in other.text and "&lt;b&gt;x&lt;/b&gt;" in other.html
    assert "contractflow notification." in other.text


ESCALATION = {
    "contract": "SC-2027-0042",
    "title": "Pumps & <valves>",
    "task": 7,
    "stage": "legal_review",
    "role": "legal",
    "due": "2027-01-07T09:00:00.123456+00:00",
    "escalate_to": "legal_lead",
    "escalated_at": "2027-01-07T13:15:42.654321+00:00",
    "counterparty": "Huadong Machinery Co., Ltd.",
    "amount": "2400000.00",
    "currency": "CNY",
    "opened_at": "2027-01-04T09:00:00.000001+00:00",
    "held_by": ["Lena Schmidt", "张伟"],
}


def test_the_escalation_email_says_in_words_what_waits_who_holds_it_and_for_how_long() -> None:
    from zoneinfo import ZoneInfo

    mail = render_email(
        TEMPLATES,
        kind="task_escalation",
        level="sla",
        subject="SC-2027-0042: task 7 (legal, legal_review) is overdue",
        payload=ESCALATION,
        base_url=None,
        uid="<task.7.escalation@example.com>",
        mail_from="cf@example.com",
        zone=ZoneInfo("Asia/Shanghai"),
    )
    body = mail.text
    assert (
        "legal_lead" not in body.split("\n", 1)[1] and "legal_review" not in body.split("\n", 1)[1]
    )
    assert ".123456" not in body and "T09:00" not in body  # no raw timestamps
    assert "Waiting task:  legal review, for legal (task 7)" in body
    assert "Held by:       Lena Schmidt, 张伟" in body
    assert "Waiting for:   3 days 4 hours (since 4 January 2027, 17:00 CST)" in body
    assert "Due:           7 January 2027, 17:00 CST, 4 hours ago" in body
    assert "Amount:        2,400,000.00 CNY" in body
    assert "comes to you (legal lead)" in body
    # the HTML part says what the text part says
    for line in body.splitlines():
        if ":  " in line:
            value = line.split(":", 1)[1].strip()
            assert (
                value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in mail.html
            ), value
    assert "escalates approval tasks that pass their SLA" in mail.html


def test_each_alert_level_updates_the_obligations_one_calendar_entry() -> None:
    """docs/alerts.md: one calendar entry per obligation, updated per level."""
    payload = {
        "contract": "SC-1",
        "title": "Pumps",
        "counterparty": "Huadong",
        "obligation": "OB-2",
        "obligation_kind": "payment",
        "party": "counterparty",
        "description": "Balance",
        "amount": "1680000.00",
        "currency": "CNY",
        "due": "2027-02-28",
        "as_of": "2027-03-01",
        "owner": "alice",
    }
    entries = []
    for level in ("due_soon", "overdue", "overdue_high"):
        rendered = render_email(
            TEMPLATES,
            kind="obligation_alert",
            level=level,
            subject=f"{level}: SC-1 OB-2",
            payload=payload,
            base_url=None,
            uid=f"<obligation.1.OB-2.{level}@example.com>",
            mail_from="cf@example.com",
        )
        assert rendered.ics is not None
        ics = rendered.ics.decode()
        uid = next(line for line in ics.split("\r\n") if line.startswith("UID:"))
        sequence = next(line for line in ics.split("\r\n") if line.startswith("SEQUENCE:"))
        entries.append((uid, sequence))
    assert {uid for uid, _ in entries} == {"UID:obligation.1.OB-2@example.com"}
    assert [s for _, s in entries] == ["SEQUENCE:0", "SEQUENCE:1", "SEQUENCE:2"]


def test_a_lone_carriage_return_in_the_calendar_text_cannot_start_a_property() -> None:
    ics = due_date_event(
        uid="<u@example.com>",
        due=dt.date(2027, 2, 28),
        summary="SC-1\rATTENDEE:mailto:evil@example.com",
        description="one\rtwo\r\nthree\nfour",
        organizer="cf@example.com",
    ).decode()
    assert "\r" not in ics.replace("\r\n", "")  # every CR left is part of a line ending
    assert "SUMMARY:SC-1\\nATTENDEE:mailto:evil@example.com\r\n" in ics
    assert "DESCRIPTION:one\\ntwo\\nthree\\nfour\r\n" in ics


@pytest.mark.parametrize("as_of", ["2027-02-20", "2027-02-28", "2027-03-10"])
def test_the_obligation_alerts_html_says_what_its_text_says(as_of: str) -> None:
    import html as html_lib
    import re

    payload = {
        "contract": "SC-1",
        "title": "Pumps",
        "counterparty": "Huadong",
        "obligation": "OB-2",
        "obligation_kind": "payment",
        "party": "counterparty",
        "description": "Balance",
        "amount": "1680000.00",
        "currency": "CNY",
        "due": "2027-02-28",
        "as_of": as_of,
        "owner": "alice",
        "owner_name": "张伟",
    }
    mail = render_email(
        TEMPLATES,
        kind="obligation_alert",
        level="overdue",
        subject="Overdue: SC-1 OB-2",
        payload=payload,
        base_url="https://cf.example.com",
        uid="<obligation.1.OB-2.overdue@example.com>",
        mail_from="cf@example.com",
    )
    links = " ".join(re.findall(r'href="([^"]+)"', mail.html))
    visible = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", mail.html)).split()) + " " + links
    for line in mail.text.split("-- ")[0].splitlines():
        value = (
            line.split(":", 1)[1].strip() if re.match(r"^[A-Z][a-z ]+: ", line) else line.strip()
        )
        if value:
            assert " ".join(value.split()) in visible, value
