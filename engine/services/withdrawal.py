"""Withdrawing a contract before it is signed (SPEC section 12).

A contract sent back (rejected, changes requested) would otherwise stay `active` forever,
in every list of active work and the alert job. Withdrawing it is one transaction like any
other action: the machine decides (`Withdraw`: refused once a stage that tracks
obligations was reached), every open task of the contract is cancelled, the alerts it had
queued and not yet sent are cancelled in the outbox, and one audit event records who and
why.
"""

from __future__ import annotations

from sqlalchemy import select, update

from engine.domain.views import ContractView
from engine.errors import Forbidden
from engine.services import transitions as tx
from engine.services.runtime import Runtime
from engine.services.unit_of_work import get_user, lock_row, table, unit_of_work
from engine.services.views import contract_view, get_contract_row
from engine.services.workflows import spec_for
from engine.store import models as m
from engine.workflow.machine import Actor, ContractState, TaskState, Withdraw, transition

WITHDRAW_ROLES = frozenset({"admin"})


def withdraw(rt: Runtime, code: str, username: str, reason: str) -> ContractView:
    """`contractflow withdraw CONTRACT --reason TEXT`: the owner, the submitter or an admin
    takes back a contract that is not yet signed. Refusals: `Forbidden` (someone else),
    `Conflict` (signed, closed or already withdrawn), `InvalidInput` (no reason)."""
    now = rt.clock()
    reason = (reason or "").strip()
    with unit_of_work(rt) as session:
        user = get_user(session, username)
        row = get_contract_row(session, code)
        if user.id not in (row.owner_id, row.submitted_by_id) and not (
            WITHDRAW_ROLES & set(user.role_names)
        ):
            raise Forbidden(
                f"{user.username} may not withdraw {code}: only its owner, its submitter or "
                "an admin"
            )
        spec = spec_for(session, row.workflow_id)
        open_tasks = list(
            session.scalars(
                select(m.Task)
                .where(m.Task.contract_id == row.id, m.Task.status == "open")
                .order_by(m.Task.id)
            )
        )
        state = ContractState(
            stage=row.stage,
            status=row.status,
            submitter="",
            tasks=tuple(TaskState(key=t.id, stage=t.stage, role=t.role) for t in open_tasks),
        )
        actor = Actor(username=user.username, roles=frozenset(user.role_names))
        tr = transition(spec, state, Withdraw(actor, reason), tx.env(rt, session, {}, now))
        lock_row(row, now)
        session.flush()
        outbox = table(m.OutboxMessage)
        result = session.execute(
            update(outbox)
            .where(outbox.c.contract_id == row.id, outbox.c.status == "pending")
            .values(status="cancelled", last_error=f"{code} was withdrawn")
        )
        cancelled = getattr(result, "rowcount", 0)
        tx.write(
            session,
            row,
            tr,
            {t.id: t for t in open_tasks},
            now,
            "withdraw",
            {
                "actor_id": user.id,
                "revision": row.current_revision,
                "comment": reason,
                "details": {
                    "cancelled_tasks": [t.id for t in open_tasks],
                    "cancelled_alerts": int(cancelled or 0),
                },
            },
            actor=user,
        )
        return contract_view(session, rt, row)
