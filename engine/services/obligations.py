"""Fulfilling, waiving and reverting obligations; the last one settled completes a stage
that tracks obligations.

The data must be true (SPEC section 12): obligations are recorded only while the contract
is in a stage that tracks them (signed; in review they are terms under discussion), a
fulfilment date may not lie in the future, and one before the contract's start needs
`force` and a comment saying why. A fulfilment or waiver recorded by mistake is reverted
with a reason; every one of these is an audit event naming the obligation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select

from engine.domain.views import ContractView
from engine.domain.workflow import WorkflowSpec
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

OBLIGATION_ROLES = frozenset({"contract_admin", "contract_manager", "admin"})

_ACTIONS = {
    "fulfilled": "fulfil_obligation",
    "waived": "waive_obligation",
    "open": "revert_obligation",
}


def fulfil_obligation(
    rt: Runtime,
    code: str,
    obligation: str,
    username: str,
    on: dt.date | None = None,
    comment: str | None = None,
    *,
    force: bool = False,
) -> ContractView:
    """Record that an obligation was fulfilled (on `on`, default today; not in the future;
    before the contract's start only with `force` and a comment)."""
    comment = comment.strip() if comment else None
    today = rt.today()
    if on is not None and on > today:
        raise InvalidInput(
            f"--on: {on.isoformat()} is in the future (today is {today.isoformat()}); "
            "record a fulfilment once it has happened"
        )
    return _settle(rt, code, obligation, username, "fulfilled", on, comment, force=force)


def waive_obligation(
    rt: Runtime, code: str, obligation: str, username: str, comment: str | None = None
) -> ContractView:
    """Record that an obligation will not be required (needs a comment saying why)."""
    if not (comment and comment.strip()):
        raise InvalidInput("--comment: waiving an obligation needs a comment saying why")
    return _settle(rt, code, obligation, username, "waived", None, comment.strip())


def revert_obligation(
    rt: Runtime, code: str, obligation: str, username: str, reason: str
) -> ContractView:
    """Undo a fulfilment or waiver recorded by mistake: the obligation is open again (and
    alerted again when due). Needs a reason; the audit event keeps what was undone."""
    if not (reason and reason.strip()):
        raise InvalidInput("--reason: reverting a fulfilment needs a reason saying why")
    return _settle(rt, code, obligation, username, "open", None, reason.strip())


def _require_tracking(spec: WorkflowSpec, row: m.Contract) -> None:
    """Obligations are live only while the contract is in a stage that tracks them."""
    if row.status != "active":
        raise Conflict(f"{row.code} is {row.status}; its obligations are no longer tracked")
    if spec.stage(row.stage).tracks == "obligations":
        return
    tracking = [s.id for s in spec.stages if s.tracks == "obligations"]
    where = f" (stage {', '.join(tracking)})" if tracking else ""
    raise Conflict(
        f"{row.code} is in stage {row.stage}: obligations are recorded once the contract is "
        f"signed and its obligations are tracked{where}"
    )


def _settle(
    rt: Runtime,
    code: str,
    oid: str,
    username: str,
    status: str,
    on: dt.date | None,
    comment: str | None,
    *,
    force: bool = False,
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
        spec = spec_for(session, row.workflow_id)
        _require_tracking(spec, row)
        undone: dict[str, str | None] = {}
        if status == "open":
            if ob.status == "open":
                raise Conflict(f"obligation {oid} of {code} is open: nothing to revert")
            undone = {
                "was": ob.status,
                "was_on": ob.fulfilled_on.isoformat() if ob.fulfilled_on else None,
            }
        elif ob.status != "open":
            raise Conflict(f"obligation {oid} of {code} is already {ob.status}")
        day = (on or rt.today()) if status == "fulfilled" else None
        if day is not None and day < row.start_date and not (force and comment):
            raise InvalidInput(
                f"--on: {day.isoformat()} is before the contract starts "
                f"({row.start_date.isoformat()}); if that is really so, pass --force "
                "with a --comment saying why"
            )
        lock_row(row, now)
        session.flush()
        ob.status = status
        ob.fulfilled_on = day
        session.flush()
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
            _ACTIONS[status],
            {
                "actor_id": user.id,
                "revision": row.current_revision,
                "comment": comment,
                "details": {
                    "obligation": oid,
                    "description": ob.description,
                    "status": status,
                    "on": ob.fulfilled_on.isoformat() if ob.fulfilled_on else None,
                    **({"forced": True} if force and day and day < row.start_date else {}),
                    **undone,
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
