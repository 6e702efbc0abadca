"""Amendments: a change to a signed contract, reviewed and signed in a workflow instance of
its own while the contract stays in fulfilment under the terms in force.

Design (docs/lifecycle.md): an amendment is a second, linked workflow instance. Its row in
`amendments` holds the proposed terms, the `amendment` workflow version it runs on and its
stage; its tasks are ordinary `tasks` rows carrying `amendment_id`. The pure transition
function runs unchanged on the amendment's own state (its stage and open tasks), so every
rule of the machine - roles, N approvals, routes on the *amended* terms' risk, no
self-approval, rejections cancelling siblings - applies to amendments without a second
machine, and the contract's own state (stage `fulfilment`, its obligations) is never
touched until the amendment reaches a final stage by `approve`. Then, in that same
transaction, the amended terms become the contract's next revision; reached by `reject`
(or `request_changes`) nothing changes.

Every event is appended to the contract's audit chain, so `audit verify` covers amendments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.domain.contract import Contract
from engine.domain.views import ActOutcome, ContractView
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.expressions import context_for
from engine.services import transitions as tx
from engine.services.contracts import read_contract
from engine.services.documents import store_revision_document
from engine.services.revisions import add_revision, owner_id_for, sync_items, terms_fields
from engine.services.runtime import Runtime
from engine.services.scoring import evaluate_and_store
from engine.services.transitions import Someone
from engine.services.unit_of_work import (
    Person,
    evaluator_ready,
    get_user,
    lock_row,
    unit_of_work,
)
from engine.services.views import contract_view, current_contract, get_contract_row, term_changes
from engine.services.workflows import latest_definition_id, spec_for
from engine.store import models as m
from engine.workflow.machine import (
    Actor,
    Complete,
    ContractState,
    Decide,
    Submit,
    TaskState,
    Transition,
    transition,
)

AMENDMENT_WORKFLOW = "amendment"


class EvaluatorNeeded(Exception):
    """Putting an amendment in force scores its terms; when the evaluator is not built yet
    the caller builds it outside its transaction and runs the decision again."""


#: Who may amend besides the contract's owner and submitter.
AMEND_ROLES = frozenset({"admin"})


def amend(rt: Runtime, code: str, path: Path, reason: str, username: str) -> ContractView:
    """`contractflow amend CONTRACT FILE --reason TEXT`: open an amendment of `code`.

    Refusals: `InvalidInput` (bad file, no reason, nothing changed), `Forbidden` (not the
    owner, submitter or an admin), `Conflict` (the contract is not in a stage that tracks
    obligations, or an amendment is already open).
    """
    if not (reason and reason.strip()):
        raise InvalidInput("--reason: an amendment needs a reason")
    return amend_contract(rt, code, read_contract(rt, path), reason, username, path.name)


def amend_contract(
    rt: Runtime, code: str, contract: Contract, reason: str, username: str, source: str
) -> ContractView:
    """`amend` for terms already read (the web app's upload and the JSON API)."""
    if not (reason and reason.strip()):
        raise InvalidInput("reason: an amendment needs a reason")
    if contract.id is not None and contract.id != code:
        raise InvalidInput(f"{source}: id: {contract.id} is not the contract {code} being amended")
    contract = contract.model_copy(update={"id": code})
    report = rt.evaluator.evaluate([contract], rt.today())[0]
    now = rt.clock()
    evaluator_ready(rt)
    with unit_of_work(rt) as session:
        user = get_user(session, username)
        row = get_contract_row(session, code)
        may_amend(user, row)
        spec = spec_for(session, row.workflow_id)
        if row.status != "active" or spec.stage(row.stage).tracks != "obligations":
            raise Conflict(
                f"{code} is in {row.stage} ({row.status}); it can be amended only while in a "
                "stage that tracks obligations (after signing)"
            )
        lock_row(row, now)
        session.flush()
        current = session.scalar(
            select(m.Amendment).where(
                m.Amendment.contract_id == row.id, m.Amendment.status == "open"
            )
        )
        if current is not None:
            raise Conflict(
                f"{code} already has amendment {current.number} open (in {current.stage}); "
                "it must be decided before another is opened"
            )
        previous = session.scalar(
            select(m.ContractRevision.terms).where(
                m.ContractRevision.contract_id == row.id,
                m.ContractRevision.number == row.current_revision,
            )
        )
        terms = contract.model_dump(mode="json")
        changes = term_changes(previous or {}, terms)
        if not changes:
            raise InvalidInput(f"{source}: the terms are the same as the terms in force")
        number = 1 + int(
            session.scalar(
                select(func.coalesce(func.max(m.Amendment.number), 0)).where(
                    m.Amendment.contract_id == row.id
                )
            )
            or 0
        )
        definition_id = latest_definition_id(session, AMENDMENT_WORKFLOW)
        aspec = spec_for(session, definition_id)
        amendment = m.Amendment(
            contract_id=row.id,
            number=number,
            workflow_id=definition_id,
            stage=aspec.first.id,
            status="open",
            reason=reason.strip(),
            terms=terms,
            changes=[c.model_dump(mode="json") for c in changes],
            source_name=source[:255],
            base_revision=row.current_revision,
            max_severity=report.max_severity.value,
            risk={
                "categories": report.categories,
                "rules": sorted({f.rule for f in report.flags}),
                "flags": len(report.flags),
            },
            submitted_by_id=user.id,
            created_at=now,
        )
        session.add(amendment)
        session.flush()
        amount_base = rt.risk_config.to_base(contract.amount, contract.currency)
        state = ContractState(stage=amendment.stage, status="active", submitter=user.username)
        when = tx.when_from_report(contract, amount_base, report)
        tr = transition(aspec, state, Submit(), tx.env(rt, session, when, now))
        _write(
            session,
            rt,
            row,
            amendment,
            tr,
            {},
            now,
            "amend",
            user,
            comment=amendment.reason,
            details={
                "amendment": number,
                "workflow": aspec.name,
                "version": aspec.version,
                "source": source,
                "changed": [c.field for c in changes],
                "max_severity": report.max_severity.value,
            },
        )
        return contract_view(session, rt, row)


def may_amend(user: Someone, row: m.Contract) -> None:
    if user.id in (row.owner_id, row.submitted_by_id):
        return
    if not AMEND_ROLES & set(user.role_names):
        raise Forbidden(
            f"{user.username} may not amend {row.code} (the owner, the submitter or an admin may)"
        )


def amendment_state(
    session: Session, amendment: m.Amendment, submitter: str
) -> tuple[ContractState, dict[int, m.Task]]:
    """The machine's view of an amendment: its stage and open tasks with their approvals."""
    tasks = list(
        session.scalars(
            select(m.Task)
            .where(
                m.Task.amendment_id == amendment.id,
                m.Task.status == "open",
                m.Task.stage == amendment.stage,
            )
            .order_by(m.Task.id)
        )
    )
    names = dict(session.execute(select(m.User.id, m.User.username)).all()) if tasks else {}
    approved: dict[int, set[str]] = {}
    acted: dict[int, set[str]] = {}
    if tasks:
        for task_id, by, for_id in session.execute(
            select(m.Approval.task_id, m.Approval.user_id, m.Approval.on_behalf_of_id).where(
                m.Approval.task_id.in_([t.id for t in tasks])
            )
        ):
            approved.setdefault(task_id, set()).add(names[for_id or by])
            acted.setdefault(task_id, set()).add(names[by])
    state = ContractState(
        stage=amendment.stage,
        status="active" if amendment.status == "open" else "closed",
        submitter=submitter,
        tasks=tuple(
            TaskState(
                key=t.id,
                stage=t.stage,
                role=t.role,
                required=t.approvals_required,
                approved_by=frozenset(approved.get(t.id, ())),
                approvers=frozenset(acted.get(t.id, ())),
                assignee=names.get(t.assignee_id) if t.assignee_id else None,
            )
            for t in tasks
        ),
    )
    return state, {t.id: t for t in tasks}


#: Picks whose part an action is (the user's own or a delegator's), given the open tasks.
PrincipalPicker = Callable[[ContractState], Someone]


def decide_amendment(
    session: Session,
    rt: Runtime,
    task: m.Task,
    row: m.Contract,
    user: Person,
    action: str,
    comment: str | None,
    pick: PrincipalPicker,
) -> tuple[m.Contract, ActOutcome]:
    """A decision on an amendment's task (called by `decisions.act` for such tasks)."""
    now = rt.clock()
    amendment = session.get(m.Amendment, task.amendment_id)
    assert amendment is not None
    if amendment.status != "open" or task.stage != amendment.stage:
        raise Conflict(f"task {task.id} belongs to an earlier step of amendment {amendment.number}")
    submitter = session.scalar(
        select(m.User.username).where(m.User.id == amendment.submitted_by_id)
    )
    state, tasks = amendment_state(session, amendment, submitter or "")
    principal = pick(state)
    aspec = spec_for(session, amendment.workflow_id)
    actor = Actor(
        username=user.username, roles=frozenset(principal.role_names), as_user=principal.username
    )
    proposed = Contract.model_validate(amendment.terms, context={"stored": True})
    when = tx.Lazy(lambda: _when(rt, proposed, amendment))
    tr = transition(
        aspec, state, Decide(task.id, action, actor, comment), tx.env(rt, session, when, now)
    )
    lock_row(row, now)
    details: dict[str, Any] = {"role": task.role, "amendment": amendment.number}
    follow_up: Transition | None = None
    if tr.state.status == "closed":
        amendment.closed_at = now
        if tr.moves and tr.moves[-1].via == "approve":
            details.update(_put_in_force(session, rt, row, amendment, now))
            follow_up = _complete_if_settled(session, rt, row, now)
        else:
            amendment.status = "rejected"
            details["outcome"] = "rejected"
    delegator = principal if principal.id != user.id else None
    from_stage = row.stage
    _write(
        session,
        rt,
        row,
        amendment,
        tr,
        tasks,
        now,
        action,
        user,
        comment=comment,
        details=details,
        task_id=task.id,
        on_behalf_of=delegator,
        pin_revision=amendment.status == "in_force",  # the event brings revision N+1 in
    )
    if follow_up is not None:
        tx.write(
            session,
            row,
            follow_up,
            {},
            now,
            "complete",
            {
                "revision": row.current_revision,
                "details": {"amendment": amendment.number, "moves": tx.moves(follow_up)},
            },
        )
    outcome = ActOutcome(
        contract=row.code,
        task=task.id,
        action=action,
        task_status=tasks[task.id].status,
        from_stage=from_stage,
        stage=row.stage,
        status=row.status,
    )
    return row, outcome


def _when(rt: Runtime, proposed: Contract, amendment: m.Amendment) -> dict[str, Any]:
    """`when` values of the amended terms and their risk as scored when the amendment was
    opened (routes read those, not the contract's; no evaluator runs inside the
    transaction - building one reads the rule set, which on SQLite waits for our lock)."""
    risk = amendment.risk or {}
    return context_for(
        proposed,
        amount_base=rt.risk_config.to_base(proposed.amount, proposed.currency),
        max_severity=amendment.max_severity,
        categories=list(risk.get("categories", [])),
        rules=list(risk.get("rules", [])),
        flag_count=int(risk.get("flags", 0)),
    )


def _put_in_force(
    session: Session, rt: Runtime, row: m.Contract, amendment: m.Amendment, now: dt.datetime
) -> dict[str, Any]:
    """The amended terms become the contract's next revision: obligations matched by id keep
    their fulfilment; those the amendment removes are waived (the amendment's reason)."""
    if not rt.has_evaluator:
        raise EvaluatorNeeded
    amended = Contract.model_validate(amendment.terms, context={"stored": True})
    amender = session.get(m.User, amendment.submitted_by_id)
    assert amender is not None
    row.owner_id = owner_id_for(session, amended, amender)
    row.current_revision += 1
    terms_fields(row, amended, rt.risk_config.to_base(amended.amount, amended.currency))
    source = amendment.source_name or f"amendment {amendment.number}"
    add_revision(session, row, amended, amender, source, now)
    store_revision_document(session, rt, row, row.current_revision, amended)
    waived = sync_items(session, row, amended, keep_removed=True)
    session.flush()
    report = evaluate_and_store(session, rt, row, current_contract(session, row))
    amendment.status = "in_force"
    amendment.revision = row.current_revision
    return {
        "outcome": "in_force",
        "in_force_revision": row.current_revision,
        "waived": waived,
        "waived_reason": amendment.reason,
        "max_severity": report.max_severity.value,
    }


def _complete_if_settled(
    session: Session, rt: Runtime, row: m.Contract, now: dt.datetime
) -> Transition | None:
    """An amendment that leaves no open obligation completes the fulfilment stage, as the
    last fulfilment would have."""
    spec = spec_for(session, row.workflow_id)
    if spec.stage(row.stage).tracks != "obligations" or tx.open_obligations(session, row.id):
        return None
    state = ContractState(stage=row.stage, status=row.status, submitter="")
    when = tx.Lazy(lambda: tx.when_from_flags(session, row))
    return transition(spec, state, Complete(), tx.env(rt, session, when, now))


def _write(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    amendment: m.Amendment,
    tr: Transition,
    tasks: dict[int, m.Task],
    now: dt.datetime,
    action: str,
    user: Someone,
    *,
    comment: str | None,
    details: dict[str, Any],
    task_id: int | None = None,
    on_behalf_of: Someone | None = None,
    pin_revision: bool = False,
) -> None:
    """The amendment's transition: its stage and tasks change; the contract keeps its stage
    (the event still goes on the contract's audit chain, with the amendment's moves)."""
    amendment.stage = tr.state.stage
    held = Transition(ContractState(stage=row.stage, status=row.status, submitter=""), tr.effects)
    tx.write(
        session,
        row,
        held,
        tasks,
        now,
        action,
        {
            "actor_id": user.id,
            "on_behalf_of_id": on_behalf_of.id if on_behalf_of else None,
            "task_id": task_id,
            "revision": row.current_revision,
            "comment": comment,
            "details": {**details, "moves": tx.moves(tr)},
        },
        actor=user,
        comment=comment,
        on_behalf_of=on_behalf_of,
        task_values={"amendment_id": amendment.id, "revision": amendment.base_revision + 1},
        pin_revision=pin_revision,
    )


def cancel_open_amendment(session: Session, row: m.Contract, now: dt.datetime) -> int | None:
    """Terminating a contract ends its open amendment (tasks cancelled); its number."""
    amendment = session.scalar(
        select(m.Amendment).where(m.Amendment.contract_id == row.id, m.Amendment.status == "open")
    )
    if amendment is None:
        return None
    amendment.status = "cancelled"
    amendment.closed_at = now
    return amendment.number
