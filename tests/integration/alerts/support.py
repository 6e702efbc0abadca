"""Building blocks for the alert tests: contracts written straight through the ORM, and a
real SMTP server (aiosmtpd) on a loopback port whose replies a test can script."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.settings import PROJECT_ROOT
from engine.store import models as m


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> Any:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        raise AssertionError(f"no {content_type} part")


@dataclass
class Handler:
    """Records every accepted message; `replies` scripts the answers to DATA, in order."""

    messages: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: int = 0  # EHLOs seen: one per SMTP connection
    delay: float = 0.0  # seconds to sit on each DATA (the crash test widens its windows)
    #: called with each message's content just before the server accepts it
    before_accept: Callable[[bytes], None] | None = None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.sessions += 1
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.replies:
                reply = self.replies.pop(0)
                if not reply.startswith("250"):
                    return reply
            if self.before_accept is not None:
                self.before_accept(envelope.content)
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:`port`; can be started late (a server that was down)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = Handler()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> SmtpServer:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def ensure_workflow(session: Session) -> int:
    wf = session.scalar(select(m.WorkflowDefinition).where(m.WorkflowDefinition.name == "t"))
    if wf is None:
        # The shipped standard workflow: its `fulfilment` stage (where these contracts
        # are) tracks obligations, the only stages whose obligations are alerted.
        source = (PROJECT_ROOT / "config" / "workflows" / "standard.yaml").read_text()
        wf = m.WorkflowDefinition(name="t", version=1, source_text=source, checksum="0" * 64)
        session.add(wf)
        session.flush()
    return wf.id


def add_user(
    session: Session, username: str, email_addr: str | None, roles: tuple[str, ...] = ()
) -> m.User:
    user = m.User(username=username, email=email_addr)
    user.roles = [m.UserRole(role=r) for r in roles]
    session.add(user)
    session.flush()
    return user


def add_contract(
    session: Session,
    code: str,
    owner: m.User,
    obligations: list[dict[str, Any]],
    *,
    title: str = "Supply of 40 centrifugal pumps",
    counterparty: str = "Huadong Machinery Co., Ltd.",
    end_date: dt.date = dt.date(2028, 1, 1),
    auto_renewal: bool = False,
    renewal_notice_days: int | None = None,
) -> m.Contract:
    """A contract row with obligation rows: dicts with oid, due and optional fields."""
    row = m.Contract(
        code=code,
        title=title,
        direction="sell",
        counterparty_name=counterparty,
        currency="CNY",
        amount=Decimal("2400000.00"),
        amount_base=Decimal("2400000.00"),
        start_date=dt.date(2026, 1, 1),
        end_date=end_date,
        auto_renewal=auto_renewal,
        renewal_notice_days=renewal_notice_days,
        owner_id=owner.id,
        submitted_by_id=owner.id,
        workflow_id=ensure_workflow(session),
        stage="fulfilment",
    )
    session.add(row)
    session.flush()
    for ob in obligations:
        session.add(
            m.Obligation(
                contract_id=row.id,
                oid=ob["oid"],
                party=ob.get("party", "counterparty"),
                kind=ob.get("kind", "payment"),
                description=ob.get("description", f"Payment {ob['oid']}"),
                due=ob["due"],
                amount=ob.get("amount"),
                status=ob.get("status", "open"),
                fulfilled_on=ob.get("fulfilled_on"),
                owner=ob.get("owner"),
            )
        )
    session.flush()
    return row
