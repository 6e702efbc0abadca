"""Reading task emails back: outbox rows and the links in received messages."""

from __future__ import annotations

import re

from sqlalchemy import select

from engine.services.runtime import Runtime
from engine.store import models as m
from tests.integration.alerts.support import Received


def notices(rt: Runtime, kind: str = "task_notice") -> list[m.OutboxMessage]:
    with rt.db.reads() as session:
        return list(
            session.scalars(
                select(m.OutboxMessage)
                .where(m.OutboxMessage.kind == kind)
                .order_by(m.OutboxMessage.id)
            )
        )


def recipients(rt: Runtime, kind: str = "task_notice") -> list[tuple[str, str]]:
    """(role, email) of every task email written, sorted."""
    return sorted((r.payload["role"], r.recipients[0]) for r in notices(rt, kind))


def link(message: Received, label: str) -> str:
    """The URL after `label:` in the text part (`Approve`, `Request changes`)."""
    text = message.part("text/plain")
    found = re.search(rf"^{re.escape(label)}:\s+(\S+)$", text, re.MULTILINE)
    assert found, f"no {label} link in:\n{text}"
    return found.group(1)
