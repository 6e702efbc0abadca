"""The end of a contract's term: renewing it (a successor contract) and terminating it.

Neither is a workflow action: a renewal is a new contract in its own workflow, linked to
the one it renews; a termination ends the contract's workflow from outside it (like an
administrator pulling the plug), so the pure machine only ever sees `terminated` as "not
active, nothing more can happen" (docs/lifecycle.md).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domain.contract import Contract
from engine.domain.views import ContractView
from engine.domain.workflow import WorkflowSpec
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.services import audit
from engine.services.amendments import cancel_open_amendment
from engine.services.contracts import read_contract
from engine.services.runtime import Runtime
from engine.services.submission import submit_contract
from engine.services.transitions import Someone
from engine.services.unit_of_work import get_user, lock_row, require_role, unit_of_work
from engine.services.views import contract_view, current_contract, get_contract_row
from engine.services.workflows import spec_for
from engine.store import models as m

TERMINATE_ROLES = frozenset({"contract_manager", "admin"})
RENEW_ROLES = frozenset({"admin"})  # besides the contract's owner


def terminate(
    rt: Runtime, code: str, reason: str, username: str, on: dt.date | None = None
) -> ContractView:
    """`contractflow terminate CONTRACT --reason TEXT [--on DATE]`: status `terminated`,
    open tasks (its amendment's too) cancelled, no more alerts; audited."""
    if not (reason and reason.strip()):
        raise InvalidInput("--reason: terminating a contract needs a reason")
    now = rt.clock()
    with unit_of_work(rt) as session:
        user = get_user(session, username)
        require_role(user, TERMINATE_ROLES, "terminate contracts")
        row = get_contract_row(session, code)
        if row.status != "active":
            raise Conflict(f"{code} is {row.status}; only an active contract can be terminated")
        day = on or rt.today()
        if day < row.start_date:
            raise InvalidInput(f"--on: {day} is before the contract's start_date {row.start_date}")
        lock_row(row, now)
        session.flush()
        open_tasks = list(
            session.scalars(
                select(m.Task)
                .where(m.Task.contract_id == row.id, m.Task.status == "open")
                .order_by(m.Task.id)
            )
        )
        for task in open_tasks:
            task.status = "cancelled"
            task.closed_at = now
        amendment = cancel_open_amendment(session, row, now)
        row.status = "terminated"
        row.terminated_on = day
        record = audit.next_event(
            session,
            row,
            "terminate",
            at=now,
            from_stage=row.stage,
            to_stage=row.stage,
            actor_id=user.id,
            revision=row.current_revision,
            comment=reason.strip(),
            details={
                "on": day.isoformat(),
                "cancelled_tasks": [t.id for t in open_tasks],
                **({"amendment_cancelled": amendment} if amendment else {}),
            },
        )
        session.flush()
        audit.insert_events(session, [record])
        return contract_view(session, rt, row)


def renew(rt: Runtime, code: str, username: str, path: Path | None = None) -> ContractView:
    """`contractflow renew CONTRACT [FILE]`: submit the successor of a signed contract.

    Without FILE the successor has the same terms, a new id, and dates moved to start the
    day after the old end date for the same length (obligations, installments and
    guarantee expiries move with them; every obligation is open again). Returns the new
    contract as `show` prints it (with `"renews"`).
    """
    with rt.db.reads() as session:
        user = get_user(session, username)
        row = get_contract_row(session, code)
        check_renewable(session, user, row)
        workflow = spec_for(session, row.workflow_id).name
        base = current_contract(session, row)
    if path is None:
        successor = successor_terms(base)
        source = f"renewal of {code}"
    else:
        successor = read_contract(rt, path)
        source = path.name
        if successor.id is not None:
            with rt.db.reads() as session:
                taken = session.scalar(select(m.Contract.id).where(m.Contract.code == successor.id))
            if taken is not None:
                raise InvalidInput(
                    f"{path}: id: {successor.id} is taken; a renewal is a new contract "
                    "(leave the id out to get the next free one)"
                )
    return submit_contract(rt, successor, username, workflow=workflow, source=source, renews=code)


def may_renew(user: Someone, row: m.Contract) -> bool:
    return user.id == row.owner_id or bool(RENEW_ROLES & set(user.role_names))


def check_renewable(session: Session, user: Someone, row: m.Contract) -> None:
    if not may_renew(user, row):
        raise Forbidden(f"{user.username} may not renew {row.code} (its owner or an admin may)")
    if row.status == "terminated":
        raise Conflict(f"{row.code} is terminated; a terminated contract is not renewed")
    if not signed(spec_for(session, row.workflow_id), row):
        raise Conflict(f"{row.code} is in {row.stage}; only a signed contract can be renewed")
    successor = session.scalar(select(m.Contract.code).where(m.Contract.renews_id == row.id))
    if successor is not None:
        raise Conflict(f"{row.code} is already renewed by {successor}")


def signed(spec: WorkflowSpec, row: m.Contract) -> bool:
    """Closed, or in a stage that tracks obligations or comes after one (past signing)."""
    if row.status == "closed":
        return True
    after: set[str] = set()
    frontier = [s.id for s in spec.stages if s.tracks == "obligations"]
    while frontier:
        stage = frontier.pop()
        if stage in after:
            continue
        after.add(stage)
        frontier.extend(spec.stage(stage).actions.values())
    return row.stage in after


def _shift(day: dt.date | None, by: dt.timedelta) -> dt.date | None:
    return day + by if day is not None else None


def successor_terms(old: Contract) -> Contract:
    """The same terms for the next period: start the day after the old end, same length."""
    start = old.end_date + dt.timedelta(days=1)
    by = start - old.start_date
    data: dict[str, Any] = old.model_dump(mode="python")
    data["id"] = None
    data["start_date"] = start
    data["end_date"] = old.end_date + by
    for ob in data["obligations"]:
        ob["due"] = ob["due"] + by
        ob["status"] = "open"
        ob["fulfilled_on"] = None
    for g in data["guarantees"]:
        g["expires_on"] = _shift(g["expires_on"], by)
    installments = data["payment_terms"].get("installments")
    for inst in installments or []:
        inst["due"] = inst["due"] + by
    return Contract.model_validate(data)
