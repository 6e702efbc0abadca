"""Loading a contract's workflow state and writing a transition's effects (for lifecycle).

The pure machine (`engine.workflow.machine.transition`) decides; this module feeds it
the stored state and writes what it decided. Both sit on the path of every approval, so
they are built to be cheap: the state comes in two or three statements, `when` values
and role head counts are read only when an expression or `approvals: all` asks, and the
writes are one version-checked UPDATE of the contract row followed by plain INSERTs.

Optimistic locking, in order: the caller reads the contract row (and with it its
`version`) in the same statement as the task it acts on, every later read sees at least
that state, and `write` UPDATEs the contract row first with `WHERE version = <read>`.
Every writer of a contract's workflow state (act, submit, revise, obligations, reassign,
SLA escalation) changes that row, so a change committed after our read makes our UPDATE
match nothing (`StaleDataError`, reported as `Conflict`) and nothing of ours is kept. On
PostgreSQL the UPDATE also takes the row lock: a racing writer waits for our commit and
then fails the same way. On SQLite `BEGIN IMMEDIATE` serialises writers anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport
from engine.expressions import context_for
from engine.services import audit
from engine.services.runtime import Runtime
from engine.services.views import current_contract
from engine.store import models as m
from engine.workflow.machine import (
    AddApproval,
    CloseTask,
    ContractState,
    Env,
    OpenTask,
    TaskState,
    Transition,
)

if TYPE_CHECKING:
    from sqlalchemy import Table


@dataclass(frozen=True)
class OpenedTask:
    """A task a transition just opened (unassigned: every holder of its role may act)."""

    id: int
    stage: str
    role: str
    due_at: dt.datetime | None


class Someone(Protocol):
    """Who acts or is acted for: a stored `User`, or the lifecycle's lighter `Person`."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def role_names(self) -> Sequence[str]: ...


class Lazy(Mapping[str, Any]):
    """A mapping computed on first use (the `when` values, role head counts): most
    approvals never read them, so they should not pay for loading terms and flags."""

    def __init__(
        self, load: Callable[[], Mapping[str, Any]], known: Mapping[str, Any] | None = None
    ) -> None:
        self._load = load
        self._known = known or {}  # values at hand: answered without loading
        self._data: Mapping[str, Any] | None = None

    def _get(self) -> Mapping[str, Any]:
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getitem__(self, key: str) -> Any:
        if key in self._known:
            return self._known[key]
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def row_values(row: m.Contract) -> dict[str, Any]:
    """`when` values the contract row already holds (routes on severity or amount need no
    terms or flags loaded)."""
    return {
        "amount": row.amount,
        "amount_base": row.amount_base,
        "direction": row.direction,
        "currency": row.currency,
        "title": row.title,
        "risk.max_severity": row.max_severity,
    }


def holders(session: Session) -> dict[str, int]:
    """How many active users hold each role (for `approvals: all`)."""
    return {
        role: int(n)
        for role, n in session.execute(
            select(m.UserRole.role, func.count())
            .join(m.User, m.User.id == m.UserRole.user_id)
            .where(m.User.active.is_(True))
            .group_by(m.UserRole.role)
        )
    }


def when_from_flags(
    session: Session, row: m.Contract, contract: Contract | None = None
) -> dict[str, Any]:
    """Every `when` value of a stored contract: its current terms and current flags."""
    flags = session.execute(
        select(m.RiskFlag.category, m.RiskFlag.rule)
        .join(m.RiskEvaluation, m.RiskEvaluation.id == m.RiskFlag.evaluation_id)
        .where(m.RiskFlag.contract_id == row.id, m.RiskEvaluation.current.is_(True))
    ).all()
    contract = contract or current_contract(session, row)
    return context_for(
        contract,
        amount_base=row.amount_base,
        max_severity=row.max_severity,
        categories=sorted({c for c, _ in flags}),
        rules=sorted({r for _, r in flags}),
        flag_count=len(flags),
    )


def when_from_report(contract: Contract, amount_base: Any, report: RiskReport) -> dict[str, Any]:
    """Every `when` value of a contract being submitted (terms and report in hand)."""
    return context_for(
        contract,
        amount_base=amount_base,
        max_severity=report.max_severity.value,
        categories=report.categories,
        rules=sorted({f.rule for f in report.flags}),
        flag_count=len(report.flags),
    )


def env(rt: Runtime, session: Session, when: Mapping[str, Any], now: dt.datetime) -> Env:
    return Env(
        now=now,
        when=when,
        holders=Lazy(lambda: holders(session)),
        calendar=rt.calendar,
    )


def open_obligations(session: Session, contract_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(m.Obligation)
            .where(m.Obligation.contract_id == contract_id, m.Obligation.status == "open")
        )
        or 0
    )


def open_obligations_of_row() -> Any:
    """`open_obligations` as a scalar subquery correlated to `contracts` (to read it in the
    same statement as the contract row)."""
    return (
        select(func.count())
        .select_from(m.Obligation)
        .where(m.Obligation.contract_id == m.Contract.id, m.Obligation.status == "open")
        .scalar_subquery()
    )


def submitter_of_row() -> Any:
    """The submitter's user name as a scalar subquery correlated to `contracts`."""
    return select(m.User.username).where(m.User.id == m.Contract.submitted_by_id).scalar_subquery()


def owner_of_row() -> Any:
    """The owner's user name as a scalar subquery correlated to `contracts`."""
    return select(m.User.username).where(m.User.id == m.Contract.owner_id).scalar_subquery()


def _table(model: type[m.Base]) -> Table:
    return cast("Table", model.__table__)


_TASKS, _USERS, _APPROVALS = _table(m.Task), _table(m.User), _table(m.Approval)
_ASSIGNEE, _BY, _PART = _USERS.alias("assignee"), _USERS.alias("by"), _USERS.alias("part")
#: The open tasks of a contract's stage and revision, with their assignees' names.
_STAGE_TASKS = (
    select(
        _TASKS.c.id,
        _TASKS.c.stage,
        _TASKS.c.role,
        _TASKS.c.approvals_required,
        _ASSIGNEE.c.username,
    )
    .outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == _TASKS.c.assignee_id)
    .where(
        _TASKS.c.contract_id == bindparam("cid"),
        _TASKS.c.status == "open",
        _TASKS.c.stage == bindparam("stage"),
        _TASKS.c.revision == bindparam("revision"),
        _TASKS.c.amendment_id.is_(None),  # an amendment's tasks are its own workflow's
    )
    .order_by(_TASKS.c.id)
)
#: Approvals of tasks: who typed each, and whose part it counts as.
_TASK_APPROVALS = (
    select(_APPROVALS.c.task_id, _BY.c.username, _PART.c.username)
    .join(_BY, _BY.c.id == _APPROVALS.c.user_id)
    .outerjoin(_PART, _PART.c.id == _APPROVALS.c.on_behalf_of_id)
    .where(_APPROVALS.c.task_id.in_(bindparam("tasks", expanding=True)))
)


class StoredTasks(Mapping[int, m.Task]):
    """Task rows as ORM objects, loaded when `write` touches one (the acting task is in
    the session already; the stage's other tasks only when a decision closes them)."""

    def __init__(self, session: Session, ids: Sequence[int]) -> None:
        self._session = session
        self._ids = list(ids)

    def __getitem__(self, key: int) -> m.Task:
        if key not in self._ids:
            raise KeyError(key)
        task = self._session.get(m.Task, key)
        if task is None:
            raise KeyError(key)
        return task

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def state(
    session: Session, row: m.Contract, submitter: str, obligations_open: int, owner: str = ""
) -> tuple[ContractState, Mapping[int, m.Task]]:
    """The machine's view of `row`: its open tasks of the current stage and revision with
    their assignees (one statement), and their approvals (a second one, only when a task
    needs more than one: a single-approval task closes with its first approval, so an open
    one has none). Plain Core statements, built once: this runs on every approval."""
    conn = session.connection()
    found = conn.execute(
        _STAGE_TASKS, {"cid": row.id, "stage": row.stage, "revision": row.current_revision}
    ).all()
    approved: dict[int, set[str]] = {}  # whose part each approval counts as
    acted: dict[int, set[str]] = {}  # who typed it
    if any(required > 1 for _, _, _, required, _ in found):
        for task_id, who, for_whom in conn.execute(
            _TASK_APPROVALS, {"tasks": [t[0] for t in found]}
        ):
            approved.setdefault(task_id, set()).add(for_whom or who)
            acted.setdefault(task_id, set()).add(who)
    machine_state = ContractState(
        stage=row.stage,
        status=row.status,
        submitter=submitter,
        owner=owner,
        tasks=tuple(
            TaskState(
                key=task_id,
                stage=stage,
                role=role,
                required=required,
                approved_by=frozenset(approved.get(task_id, ())),
                approvers=frozenset(acted.get(task_id, ())),
                assignee=assignee,
            )
            for task_id, stage, role, required, assignee in found
        ),
        open_obligations=obligations_open,
    )
    return machine_state, StoredTasks(session, [t[0] for t in found])


def moves(tr: Transition) -> list[dict[str, Any]]:
    """The stage moves of a transition as the audit event's `details.moves`."""
    return [
        {
            "from": mv.from_stage,
            "to": mv.to_stage,
            "via": mv.via,
            **({"route": mv.route} if mv.route else {}),
        }
        for mv in tr.moves
    ]


def write(
    session: Session,
    row: m.Contract,
    tr: Transition,
    tasks: Mapping[int, m.Task],
    now: dt.datetime,
    action: str,
    event: Mapping[str, Any],
    *,
    actor: Someone | None = None,
    comment: str | None = None,
    on_behalf_of: Someone | None = None,
    task_values: Mapping[str, Any] | None = None,
    pin_revision: bool = False,
) -> list[OpenedTask]:
    """Write a transition and its audit event (`event`: the fields of `audit.next_event`
    besides the contract, the action and the stages).

    Order matters: the contract row first (new stage and status, the audit chain's new
    head, its version checked and bumped: the lock, see the module doc), then the task
    rows touched (their versions checked too), then approvals, new tasks and the event
    as plain INSERTs. `task_values` override columns of the tasks opened (an amendment's
    tasks carry its id). Returns the tasks it opened (their emails are the caller's: see
    `engine.services.task_notices`).
    """
    from_stage = row.stage
    row.stage = tr.state.stage
    row.status = tr.state.status
    row.updated_at = now
    fields: dict[str, Any] = {
        "from_stage": from_stage,
        "to_stage": row.stage,
        "actor_name": actor.username if actor is not None else None,
        **event,
    }
    if action in audit.REVISION_ACTIONS or pin_revision:  # pin the revision's terms, document
        fields.update(audit.revision_pins(session, row.id, row.current_revision))
    record = audit.next_event(session, row, action, at=now, **fields)
    session.flush()
    approvals: list[dict[str, Any]] = []
    opened: list[dict[str, Any]] = []
    for effect in tr.effects:
        if isinstance(effect, OpenTask):
            opened.append(
                {
                    "contract_id": row.id,
                    "revision": row.current_revision,
                    "stage": effect.stage,
                    "role": effect.role,
                    "approvals_required": effect.required,
                    "status": "open",
                    "due_at": effect.due_at,
                    "escalate_to": effect.escalate_to,
                    "created_at": now,
                    **(task_values or {}),
                }
            )
        elif isinstance(effect, AddApproval):
            assert actor is not None
            approvals.append(
                {
                    "task_id": effect.task,
                    "user_id": actor.id,
                    "on_behalf_of_id": on_behalf_of.id if on_behalf_of else None,
                    "revision": row.current_revision,
                    "at": now,
                }
            )
            # The task's version moves with every approval, so two people giving the
            # last two of N approvals at once cannot both miss closing it.
            flag_modified(tasks[effect.task], "status")
        elif isinstance(effect, CloseTask):
            task = tasks[effect.task]
            task.status = effect.status
            task.closed_at = now
            if effect.status != "cancelled" and actor is not None:
                task.decided_by_id = actor.id
                task.comment = comment
    session.flush()
    if approvals:
        session.connection().execute(insert(_table(m.Approval)), approvals)
    new_tasks: list[OpenedTask] = []
    if opened:
        ids = session.connection().execute(
            insert(_TASKS).returning(_TASKS.c.id, sort_by_parameter_order=True), opened
        )
        new_tasks = [
            OpenedTask(task_id, values["stage"], values["role"], values["due_at"])
            for (task_id,), values in zip(ids.all(), opened, strict=True)
        ]
    audit.insert_events(session, [record])
    return new_tasks
