"""Decisions on approval tasks: approve, reject, request_changes, by the user or for a
colleague who delegated to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domain.views import ActOutcome, ContractView
from engine.errors import Conflict, Forbidden, NotFound
from engine.services import task_notices as notices
from engine.services import transitions as tx
from engine.services.amendments import EvaluatorNeeded, decide_amendment
from engine.services.evaluation_report import store_evaluation_report
from engine.services.runtime import Runtime
from engine.services.transitions import Someone
from engine.services.unit_of_work import evaluator_ready, get_user, unit_of_work
from engine.services.views import (
    active_delegators,
    contract_view,
    show,
)
from engine.services.workflows import spec_for
from engine.store import models as m
from engine.workflow.machine import (
    Actor,
    ContractState,
    Decide,
    transition,
)

if TYPE_CHECKING:
    pass


EVALUATION_STAGE = "evaluation"


def act(
    rt: Runtime,
    task_id: int,
    action: str,
    username: str,
    comment: str | None = None,
    on_behalf_of: str | None = None,
) -> ContractView:
    """`contractflow act TASK ACTION`: approve, reject or request_changes on a task.

    The acting user acts for themselves when they may; otherwise for a colleague who
    delegated to them today (or for `on_behalf_of`, when given). Refusals: `Conflict`
    (task not open, already approved, lost a race), `Forbidden` (role, assignment,
    self-approval), `InvalidInput` (unknown action, missing comment). Returns the
    contract as `show` prints it (read in the same transaction).
    """
    try:
        with unit_of_work(rt) as session:
            row, outcome = _decide_in(session, rt, task_id, action, username, comment, on_behalf_of)
            view = contract_view(session, rt, row)
    except EvaluatorNeeded:  # an amendment goes in force: score it with an evaluator built now
        evaluator_ready(rt)
        with unit_of_work(rt) as session:
            row, outcome = _decide_in(session, rt, task_id, action, username, comment, on_behalf_of)
            view = contract_view(session, rt, row)
    if keep_evaluation_report(rt, outcome.contract, outcome.from_stage, outcome.stage):
        return show(rt, outcome.contract)
    return view


def decide(
    rt: Runtime,
    task_id: int,
    action: str,
    username: str,
    comment: str | None = None,
    on_behalf_of: str | None = None,
) -> ActOutcome:
    """`act` without building the full contract view afterwards (for batch callers and
    the benchmark): same checks, same transaction, a small result."""
    try:
        with unit_of_work(rt) as session:
            outcome = _decide_in(session, rt, task_id, action, username, comment, on_behalf_of)[1]
    except EvaluatorNeeded:
        evaluator_ready(rt)
        with unit_of_work(rt) as session:
            outcome = _decide_in(session, rt, task_id, action, username, comment, on_behalf_of)[1]
    keep_evaluation_report(rt, outcome.contract, outcome.from_stage, outcome.stage)
    return outcome


def decide_by_link(
    rt: Runtime,
    task_id: int,
    action: str,
    username: str,
    comment: str | None,
    *,
    use: m.ActionLinkUse,
) -> ActOutcome:
    """A decision from a one-click email link (`engine.services.action_links`): the same
    checks as `act`, the link's use recorded first in the same transaction (a second use
    fails on its unique hash before anything else), and `channel: email` in the audit."""
    with unit_of_work(rt) as session:
        session.add(use)
        session.flush()
        outcome = _decide_in(
            session, rt, task_id, action, username, comment, None, channel="email"
        )[1]
    keep_evaluation_report(rt, outcome.contract, outcome.from_stage, outcome.stage)
    return outcome


def _decide_in(
    session: Session,
    rt: Runtime,
    task_id: int,
    action: str,
    username: str,
    comment: str | None,
    on_behalf_of: str | None,
    *,
    channel: str | None = None,
) -> tuple[m.Contract, ActOutcome]:
    now = rt.clock()
    comment = comment.strip() if comment else None
    # The task, its contract (and the version our write will check), the submitter, the
    # open obligations and the owner in one statement: see `transitions` for why this
    # order is safe.
    found = session.execute(
        select(
            m.Task,
            m.Contract,
            tx.submitter_of_row(),
            tx.open_obligations_of_row(),
            tx.owner_of_row(),
        )
        .join(m.Contract, m.Contract.id == m.Task.contract_id)
        .where(m.Task.id == task_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"task {task_id} does not exist")
    task, row, submitter, obligations_open, owner = found
    if task.status != "open":
        raise Conflict(f"task {task_id} is {task.status.replace('_', ' ')}, not open")
    user = get_user(session, username)
    if task.amendment_id is not None:  # a task of the contract's amendment, not its own
        return decide_amendment(
            session,
            rt,
            task,
            row,
            user,
            action,
            comment,
            lambda st: _principal(session, rt, user, task, st, action, on_behalf_of),
        )
    if task.stage != row.stage or task.revision != row.current_revision:
        raise Conflict(f"task {task_id} belongs to an earlier step of {row.code}")
    state, tasks = tx.state(
        session, row, submitter or "", int(obligations_open or 0), owner=owner or ""
    )
    principal = _principal(session, rt, user, task, state, action, on_behalf_of)
    spec = spec_for(session, row.workflow_id)
    actor = Actor(
        username=user.username,
        roles=frozenset(principal.role_names),
        as_user=principal.username,
    )
    when = tx.Lazy(lambda: tx.when_from_flags(session, row), known=tx.row_values(row))
    tr = transition(
        spec, state, Decide(task.id, action, actor, comment), tx.env(rt, session, when, now)
    )
    from_stage = row.stage
    delegator = principal if principal.id != user.id else None
    opened = tx.write(
        session,
        row,
        tr,
        tasks,
        now,
        action,
        {
            "actor_id": user.id,
            "on_behalf_of_id": delegator.id if delegator else None,
            "task_id": task.id,
            "revision": row.current_revision,
            "comment": comment,
            "details": {
                "role": task.role,
                "moves": tx.moves(tr),
                **({"channel": channel} if channel else {}),
            },
        },
        actor=user,
        comment=comment,
        on_behalf_of=delegator,
    )
    if opened:
        notices.queue_opened(
            session,
            rt,
            row,
            opened,
            now,
            submitter_id=row.submitted_by_id,
            self_approval=spec.self_approval_allowed(row.stage),
        )
    if action in notices.HAND_BACK and task.status != "open":
        notices.queue_revise_notice(session, rt, row, task, action, user.username, comment, now)
    outcome = ActOutcome(
        contract=row.code,
        task=task.id,
        action=action,
        task_status=task.status,
        from_stage=from_stage,
        stage=row.stage,
        status=row.status,
    )
    return row, outcome


def _principal(
    session: Session,
    rt: Runtime,
    user: Someone,
    task: m.Task,
    state: ContractState,
    action: str,
    on_behalf_of: str | None,
) -> Someone:
    """Whose part the action is: the user's own, or a delegator's (delegation in force)."""
    if on_behalf_of is not None and on_behalf_of != user.username:
        delegators = active_delegators(session, user.id, rt.today())
        chosen = next((d for d in delegators if d.username == on_behalf_of), None)
        if chosen is None:
            raise Forbidden(f"{on_behalf_of} has not delegated to {user.username} for today")
        return chosen
    open_task = next((t for t in state.tasks if t.key == task.id), None)
    if open_task is None:  # closed by someone else since we read it
        raise Conflict(f"task {task.id} is not open")

    def can(p: Someone) -> bool:
        if task.role not in p.role_names:
            return False
        if open_task.assignee is not None and open_task.assignee != p.username:
            return False
        return not (action == "approve" and p.username in open_task.approved_by)

    if can(user):
        return user  # the common case: no delegation lookup needed
    for candidate in active_delegators(session, user.id, rt.today()):
        if can(candidate):
            return candidate
    return user


def keep_evaluation_report(rt: Runtime, code: str, from_stage: str, to_stage: str) -> bool:
    """Entering the `evaluation` stage writes the evaluation report and keeps it, so the
    stage's task points to a document (docs/documents.md). It is written after the commit
    because it reads the committed history; if it cannot be written the move still stands
    and the report is produced on demand (`contractflow report`)."""
    if to_stage != EVALUATION_STAGE or from_stage == EVALUATION_STAGE:
        return False
    store_evaluation_report(rt, code)
    return True
