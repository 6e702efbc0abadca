"""The admin audit log: who changed users, roles, passwords, tokens and workflows, when.

Rows in `admin_events` are append-only (triggers refuse UPDATE and DELETE, as on the
contract audit) and are written in the same transaction as the change they record, so a
change without its record (or a record of a change that was rolled back) cannot happen.
Secrets never go in: a password change records that it happened, a token its id and name.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domain.people import Principal
from engine.errors import InvalidInput
from engine.services.runtime import Runtime
from engine.store import models as m

#: Who did it: a signed-in user, or a text such as `cli:root` for a command-line run.
Actor = Principal | str

ACTIONS = (
    "user_created",
    "roles_changed",
    "email_changed",
    "notify_changed",
    "team_changed",
    "password_set",
    "user_deactivated",
    "user_reactivated",
    "token_created",
    "token_revoked",
    "workflow_loaded",
)


class AdminEventView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


def command_line_actor() -> str:
    """The actor of a command run at a shell: the operating-system account, and the
    acting user when one is named (`CONTRACTFLOW_USER`)."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        account = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    acting = os.environ.get("CONTRACTFLOW_USER")
    return f"cli:{account}" + (f" as {acting}" if acting else "")


def record(
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    at: dt.datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one event in the caller's transaction."""
    assert action in ACTIONS, action
    if isinstance(actor, Principal):
        actor_id, name = actor.id, actor.username
    else:
        actor_id, name = None, actor
    session.add(
        m.AdminEvent(
            at=at,
            actor_id=actor_id,
            actor=name[:100],
            action=action,
            subject=subject[:200],
            details=details or {},
        )
    )


def list_events(
    rt: Runtime, limit: int = 100, offset: int = 0, action: str | None = None
) -> list[AdminEventView]:
    """Newest first."""
    if action is not None and action not in ACTIONS:
        raise InvalidInput(f"--action: {action!r} is not one of {', '.join(ACTIONS)}")
    if not 1 <= limit <= 1000:
        raise InvalidInput("--limit: between 1 and 1000")
    if offset < 0:
        raise InvalidInput("--offset: 0 or more")
    query = select(m.AdminEvent).order_by(m.AdminEvent.id.desc()).limit(limit).offset(offset)
    if action is not None:
        query = query.where(m.AdminEvent.action == action)
    with rt.db.reads() as session:
        return [
            AdminEventView(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                subject=row.subject,
                details=row.details,
            )
            for row in session.scalars(query)
        ]
