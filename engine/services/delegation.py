"""People: out-of-office delegation and reassigning a task to one holder of its role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.domain.views import ContractView, DelegationView
from engine.errors import Conflict, InvalidInput, NotFound
from engine.services import audit
from engine.services import task_notices as notices
from engine.services.runtime import Runtime
from engine.services.unit_of_work import get_user, lock_row, require_role, unit_of_work
from engine.services.views import (
    contract_view,
)
from engine.store import models as m

if TYPE_CHECKING:
    pass


REASSIGN_ROLES = frozenset({"admin", "contract_manager"})


def delegate(
    rt: Runtime,
    username: str,
    to_user: str,
    starts_on: dt.date,
    ends_on: dt.date,
    from_user: str | None = None,
) -> DelegationView:
    """Out of office: `to_user` may act on `from_user`'s tasks between two dates (inclusive).

    `from_user` defaults to the acting user; delegating for someone else needs `admin`.
    The delegate must share a role with the delegator.
    """
    if ends_on < starts_on:
        raise InvalidInput(f"--until: {ends_on} is before --from {starts_on}")
    with unit_of_work(rt) as session:
        actor = get_user(session, username)
        giver = get_user(session, from_user) if from_user else actor
        if giver.id != actor.id:
            require_role(actor, frozenset({"admin"}), "delegate for someone else")
        taker = get_user(session, to_user)
        if taker.id == giver.id:
            raise InvalidInput("TO_USER: cannot delegate to yourself")
        shared = (set(giver.role_names) & set(taker.role_names)) - {"admin"}
        if not shared:
            raise InvalidInput(
                f"TO_USER: {taker.username} holds none of {giver.username}'s roles "
                f"({', '.join(giver.role_names) or 'none'})"
            )
        row = m.Delegation(
            from_user_id=giver.id, to_user_id=taker.id, starts_on=starts_on, ends_on=ends_on
        )
        session.add(row)
        session.flush()
        if starts_on <= rt.today() <= ends_on:
            notices.queue_for_open_tasks(
                session,
                rt,
                open_tasks_of(session, giver.id, giver.role_names),
                "delegated",
                rt.clock(),
                only_delegates_of=giver.id,
            )
        return DelegationView(
            id=row.id,
            from_user=giver.username,
            to_user=taker.username,
            starts_on=starts_on,
            ends_on=ends_on,
        )


def open_tasks_of(session: Session, user_id: int, roles: Sequence[str]) -> list[m.Task]:
    """Open tasks `user_id` may act on: assigned to them, or unassigned of their roles."""
    mine = m.Task.assignee_id == user_id
    if roles:
        mine = or_(mine, and_(m.Task.assignee_id.is_(None), m.Task.role.in_(list(roles))))
    return list(
        session.scalars(select(m.Task).where(m.Task.status == "open", mine).order_by(m.Task.id))
    )


def list_delegations(rt: Runtime, username: str | None = None) -> list[DelegationView]:
    """Delegations given by or to `username` (all of them when None), newest first."""
    with rt.db.reads() as session:
        rows = list(session.scalars(select(m.Delegation).order_by(m.Delegation.id.desc())))
        names = dict(session.execute(select(m.User.id, m.User.username)).all())
        out = [
            DelegationView(
                id=d.id,
                from_user=names[d.from_user_id],
                to_user=names[d.to_user_id],
                starts_on=d.starts_on,
                ends_on=d.ends_on,
            )
            for d in rows
        ]
        if username:
            out = [d for d in out if username in (d.from_user, d.to_user)]
        return out


def reassign(
    rt: Runtime, task_id: int, to_user: str, username: str, comment: str | None = None
) -> ContractView:
    """An admin (or contract manager) gives an open task to one person holding its role."""
    now = rt.clock()
    with unit_of_work(rt) as session:
        actor = get_user(session, username)
        require_role(actor, REASSIGN_ROLES, "reassign tasks")
        task = session.get(m.Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        if task.status != "open":
            raise Conflict(f"task {task_id} is {task.status.replace('_', ' ')}, not open")
        target = get_user(session, to_user)
        if task.role not in target.role_names:
            raise InvalidInput(f"TO_USER: {to_user} does not hold the role {task.role}")
        row = session.get(m.Contract, task.contract_id)
        assert row is not None
        lock_row(row, now)
        session.flush()
        before = (
            session.scalar(select(m.User.username).where(m.User.id == task.assignee_id))
            if task.assignee_id
            else None
        )
        task.assignee_id = target.id
        audit.append(
            session,
            row.id,
            "reassign",
            at=now,
            actor_id=actor.id,
            task_id=task.id,
            from_stage=row.stage,
            to_stage=row.stage,
            revision=row.current_revision,
            comment=comment,
            details={"role": task.role, "from": before, "to": target.username},
        )
        session.flush()
        notices.queue_for_open_tasks(session, rt, [task], "reassigned", now)
        return contract_view(session, rt, row)
