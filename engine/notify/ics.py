"""A one-event iCalendar file (RFC 5545) for an obligation's due date.

Written by hand rather than through a library: one all-day VEVENT is a dozen lines, and a
stable UID (the alert's Message-ID) makes a resent alert update the same calendar entry
instead of adding a second one.
"""

from __future__ import annotations

import datetime as dt


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")  # a lone CR ends a line for many readers: never raw
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    if line.isascii():  # one byte per character: cut by length (the common case)
        if len(line) <= 75:
            return line
        return "\r\n ".join([line[:75], *(line[i : i + 74] for i in range(75, len(line), 74))])
    data = line.encode()
    if len(data) <= 75:
        return line
    parts: list[str] = []  # multi-byte characters are never split
    current = b""
    for ch in line:
        encoded = ch.encode()
        limit = 75 if not parts else 74
        if len(current) + len(encoded) > limit:
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)


def due_date_event(
    *,
    uid: str,
    due: dt.date,
    summary: str,
    description: str,
    organizer: str,
    url: str | None = None,
    stamp: dt.datetime | None = None,
    sequence: int = 0,
) -> bytes:
    """An all-day event on `due`, as the bytes of a `.ics` file. `uid` names the entry
    (one per obligation); `sequence` grows with each update of it (each alert level), so
    a calendar replaces the entry instead of adding another."""
    stamp = stamp or dt.datetime(due.year, due.month, due.day, tzinfo=dt.UTC)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//contractflow//alerts//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid.strip('<>')}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{stamp.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}",
        f"DTSTART;VALUE=DATE:{due.strftime('%Y%m%d')}",
        f"DTEND;VALUE=DATE:{(due + dt.timedelta(days=1)).strftime('%Y%m%d')}",
        f"SUMMARY:{_escape(summary)}",
        f"DESCRIPTION:{_escape(description)}",
        f"ORGANIZER:mailto:{organizer}",
    ]
    if url:
        lines.append(f"URL:{url}")
    lines += ["TRANSP:TRANSPARENT", "END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
