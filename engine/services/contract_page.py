"""Everything the contract page shows, gathered for one signed-in person.

The contract itself is `views.contract_view` (what `contractflow show` prints); this adds
what depends on who is looking: which open tasks they may act on and with which actions,
whether they may revise or record fulfilment, and the workflow drawn as a row of stages.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domain.views import ContractView, TaskView
from engine.domain.workflow import TASK_ACTIONS, WorkflowSpec
from engine.services import access, amendments, lifecycle, renewals
from engine.services.auth import Principal
from engine.services.inbox import delegator_names_and_roles
from engine.services.runtime import Runtime
from engine.services.views import contract_view
from engine.services.workflows import spec_for
from engine.store import models as m


class StageMark(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    current: bool
    visited: bool
    final: bool
    title: str

    @property
    def css(self) -> str:
        parts = ["current" if self.current else "done" if self.visited else ""]
        if self.final:
            parts.append("final")
        return " ".join(p for p in parts if p)


class MyTask(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    stage: str
    role: str
    due: dt.datetime | None
    overdue: bool
    approvals_required: int
    approved_by: list[str]
    on_behalf_of: str | None
    actions: list[str]
    amendment: int | None = None  # a task of the contract's amendment


class Installment(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str | None
    percent: Decimal
    amount: Decimal
    due: str


class ContractPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    contract: ContractView
    stages: list[StageMark]
    my_tasks: list[MyTask]
    open_tasks: list[TaskView]
    may_revise: bool
    may_fulfil: bool
    may_amend: bool = False
    may_renew: bool = False
    may_terminate: bool = False
    may_withdraw: bool
    today: dt.date
    days_to: dict[str, int]
    installments: list[Installment]
    base_currency: str


def _may_act(
    task: TaskView, who: Principal, delegators: list[tuple[str, frozenset[str]]]
) -> str | bool | None:
    """False when `who` may not act; else None (their own) or the delegator's name."""
    people = [(who.username, who.roles), *delegators]
    for index, (name, roles) in enumerate(people):
        if task.assignee == name or (task.assignee is None and task.role in roles):
            if name in task.approved_by:
                continue
            return None if index == 0 else name
    return False


def contract_page(rt: Runtime, who: Principal, code: str) -> ContractPage:
    today = rt.today()
    with rt.db.reads() as session:
        row = access.contract_row(session, who, code, today)
        view = contract_view(session, rt, row)
        spec = spec_for(session, row.workflow_id)
        delegators = delegator_names_and_roles(session, who, today)
        may_revise = access.may_revise(who, row)
        may_fulfil = access.may_fulfil(who, row)
        amendment_spec = _open_amendment_spec(session, row)
        signed = renewals.signed(spec, row)
        may_amend = (
            (who.has(*amendments.AMEND_ROLES) or who.id in (row.owner_id, row.submitted_by_id))
            and row.status == "active"
            and spec.stage(row.stage).tracks == "obligations"
            and amendment_spec is None
        )
        may_renew = (
            (who.id == row.owner_id or who.has(*renewals.RENEW_ROLES))
            and who.has(*lifecycle.SUBMITTER_ROLES)
            and row.status != "terminated"
            and signed
            and view.renewed_by is None
        )
        may_terminate = who.has(*renewals.TERMINATE_ROLES) and row.status == "active"
        may_withdraw = access.may_withdraw(who, row)

    visited = {view.stage}
    for event in view.history:
        visited.update(s for s in (event.from_stage, event.to_stage) if s)
    stages = []
    for stage in spec.stages:
        roles = ", ".join(t.role.value for t in stage.tasks)
        title = stage.description or (f"tasks: {roles}" if roles else stage.id)
        stages.append(
            StageMark(
                id=stage.id,
                current=stage.id == view.stage,
                visited=stage.id in visited,
                final=stage.final,
                title=title,
            )
        )
    current = spec.stage(view.stage)
    allowed = [a for a in TASK_ACTIONS if a in current.actions]
    open_amendment = next((a for a in view.amendments if a.status == "open"), None)
    amendment_allowed = (
        [a for a in TASK_ACTIONS if a in amendment_spec.stage(open_amendment.stage).actions]
        if amendment_spec is not None and open_amendment is not None
        else []
    )
    open_tasks = [t for t in view.tasks if t.status == "open"]
    mine = []
    for task in open_tasks:
        on_behalf = _may_act(task, who, delegators)
        if on_behalf is False:
            continue
        mine.append(
            MyTask(
                id=task.id,
                stage=task.stage,
                role=task.role,
                due=task.due,
                overdue=task.overdue,
                approvals_required=task.approvals_required,
                approved_by=task.approved_by,
                on_behalf_of=on_behalf if isinstance(on_behalf, str) else None,
                actions=amendment_allowed if task.amendment else allowed,
                amendment=task.amendment,
            )
        )
    days_to = {o.id: (o.due - today).days for o in view.obligations}
    return ContractPage(
        contract=view,
        stages=stages,
        my_tasks=mine,
        open_tasks=open_tasks,
        # a revision is taken while the contract waits in its first stage (sent back)
        may_revise=may_revise and view.status == "active" and view.stage == spec.first.id,
        # obligations are recorded only in a stage that tracks them (the contract is signed)
        may_fulfil=may_fulfil and view.status == "active" and current.tracks == "obligations",
        # a contract is withdrawn only before it is signed
        may_withdraw=may_withdraw
        and view.status == "active"
        and view.stage in spec.approval_stages(),
        today=today,
        may_amend=may_amend,
        may_renew=may_renew,
        may_terminate=may_terminate,
        days_to=days_to,
        installments=_installments(view),
        base_currency=rt.risk_config.base_currency,
    )


def _open_amendment_spec(session: Session, row: m.Contract) -> WorkflowSpec | None:
    """The workflow of the contract's open amendment (its tasks' buttons), if one is open."""
    workflow_id = session.scalar(
        select(m.Amendment.workflow_id).where(
            m.Amendment.contract_id == row.id, m.Amendment.status == "open"
        )
    )
    return spec_for(session, workflow_id) if workflow_id is not None else None


def _installments(view: ContractView) -> list[Installment]:
    terms: dict[str, Any] = view.terms.get("payment_terms") or {}
    out = []
    for item in terms.get("installments") or []:
        percent = Decimal(str(item.get("percent", 0)))
        out.append(
            Installment(
                label=item.get("label"),
                percent=percent,
                amount=(view.amount * percent / 100).quantize(Decimal("0.01")),
                due=str(item.get("due", "")),
            )
        )
    return out
