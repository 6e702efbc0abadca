"""People: out-of-office delegation and reassigning a task to one holder of its role."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.domain.views import ContractView, DelegationView
from engine.errors import Conflict, InvalidInput, NotFound
from engine.services import audit
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
        return DelegationView(
            id=row.id,
            from_user=giver.username,
            to_user=taker.username,
            starts_on=starts_on,
            ends_on=ends_on,
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
        return contract_view(session, rt, row)
