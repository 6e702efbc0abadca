"""Fulfilling and waiving obligations; the last one settled completes a stage that tracks
obligations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.domain.views import ContractView
from engine.errors import Conflict, InvalidInput, NotFound
from engine.services import task_notices as notices
from engine.services import transitions as tx
from engine.services.decisions import keep_evaluation_report
from engine.services.runtime import Runtime
from engine.services.scoring import evaluate_and_store
from engine.services.unit_of_work import (
    evaluator_ready,
    get_user,
    lock_row,
    require_role,
    unit_of_work,
)
from engine.services.views import (
    contract_view,
    current_contract,
    get_contract_row,
    show,
)
from engine.services.workflows import spec_for
from engine.store import models as m
from engine.workflow.machine import (
    Complete,
    ContractState,
    Transition,
    transition,
)

if TYPE_CHECKING:
    pass


OBLIGATION_ROLES = frozenset({"contract_admin", "contract_manager", "admin"})


def fulfil_obligation(
    rt: Runtime,
    code: str,
    obligation: str,
    username: str,
    on: dt.date | None = None,
    comment: str | None = None,
) -> ContractView:
    """Record that an obligation was fulfilled (on `on`, default today)."""
    return _settle(rt, code, obligation, username, "fulfilled", on, comment)


def waive_obligation(
    rt: Runtime, code: str, obligation: str, username: str, comment: str | None = None
) -> ContractView:
    """Record that an obligation will not be required (needs a comment saying why)."""
    if not (comment and comment.strip()):
        raise InvalidInput("--comment: waiving an obligation needs a comment saying why")
    return _settle(rt, code, obligation, username, "waived", None, comment)


def _settle(
    rt: Runtime,
    code: str,
    oid: str,
    username: str,
    status: str,
    on: dt.date | None,
    comment: str | None,
) -> ContractView:
    now = rt.clock()
    evaluator_ready(rt)
    with unit_of_work(rt) as session:
        user = get_user(session, username)
        row = get_contract_row(session, code)
        if row.owner_id != user.id:
            require_role(user, OBLIGATION_ROLES, "record obligations")
        ob = session.scalar(
            select(m.Obligation).where(m.Obligation.contract_id == row.id, m.Obligation.oid == oid)
        )
        if ob is None:
            known = ", ".join(
                session.scalars(
                    select(m.Obligation.oid)
                    .where(m.Obligation.contract_id == row.id)
                    .order_by(m.Obligation.id)
                )
            )
            raise NotFound(f"{code} has no obligation {oid!r} (obligations: {known or 'none'})")
        if ob.status != "open":
            raise Conflict(f"obligation {oid} of {code} is already {ob.status}")
        if row.status != "active":
            raise Conflict(f"{code} is {row.status}")
        lock_row(row, now)
        session.flush()
        ob.status = status
        ob.fulfilled_on = (on or rt.today()) if status == "fulfilled" else None
        session.flush()
        spec = spec_for(session, row.workflow_id)
        from_stage = row.stage
        contract = current_contract(session, row)
        evaluate_and_store(session, rt, row, contract)
        tasks: Mapping[int, m.Task] = {}
        if (
            spec.stage(row.stage).tracks == "obligations"
            and tx.open_obligations(session, row.id) == 0
        ):
            submitter = session.scalar(
                select(m.User.username).where(m.User.id == row.submitted_by_id)
            )
            state, tasks = tx.state(session, row, submitter or "", 0)
            when = tx.Lazy(lambda: tx.when_from_flags(session, row, contract))
            tr = transition(spec, state, Complete(), tx.env(rt, session, when, now))
        else:  # the stage stays: the event records the obligation alone
            tr = Transition(ContractState(stage=row.stage, status=row.status, submitter=""), ())
        opened = tx.write(
            session,
            row,
            tr,
            tasks,
            now,
            "fulfil_obligation" if status == "fulfilled" else "waive_obligation",
            {
                "actor_id": user.id,
                "revision": row.current_revision,
                "comment": comment,
                "details": {
                    "obligation": oid,
                    "status": status,
                    "on": ob.fulfilled_on.isoformat() if ob.fulfilled_on else None,
                    "moves": tx.moves(tr),
                },
            },
            actor=user,
        )
        notices.queue_opened(
            session,
            rt,
            row,
            opened,
            now,
            submitter_id=row.submitted_by_id,
            self_approval=spec.self_approval_allowed(row.stage),
        )
        view = contract_view(session, rt, row)
    if keep_evaluation_report(rt, code, from_stage, view.stage):
        return show(rt, code)
    return view
