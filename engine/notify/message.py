"""MIME assembly: text and HTML alternatives plus the calendar attachment.

The Message-ID comes from the outbox row, never from the clock, so a message resent after a
crash carries the same id and mail clients (and our crash test) can recognise the duplicate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from engine.notify.render import RenderedEmail


def build_message(
    rendered: RenderedEmail,
    *,
    mail_from: str,
    recipients: Sequence[str],
    message_id: str,
    date: dt.datetime,
    key: str,
) -> EmailMessage:
    """One email ready for `SmtpSender.send`."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = mail_from
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(date.astimezone(dt.UTC))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Contractflow-Alert"] = key
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    if rendered.ics is not None:
        msg.add_attachment(
            rendered.ics,
            maintype="text",
            subtype="calendar",
            filename=rendered.ics_filename,
            params={"method": "PUBLISH"},
        )
    return msg
