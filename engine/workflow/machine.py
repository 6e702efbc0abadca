"""The transition function: (state, action, actor) -> new state + effects. Pure.

No database, no clock, no I/O: everything the machine needs (the `when` values, the time,
how many people hold each role, the business calendar) comes in through `Env`. Services load
the stored state, call `transition`, and apply the returned effects in one transaction;
tests drive it directly. A refused action raises (Conflict / Forbidden / InvalidInput) and
produces no effects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.domain.workflow import TASK_ACTIONS, StageSpec, WorkflowSpec
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.expressions import compile_when
from engine.workflow.calendar import WEEKDAYS
from engine.workflow.sla import BusinessDays, due_at

MAX_HOPS = 50  # stages entered in one transition (pass-through stages); guards a bad loop

CLOSED_STATUS = {
    "approve": "approved",
    "reject": "rejected",
    "request_changes": "changes_requested",
}


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class TaskState:
    """An open task of the current stage. `key` is the stored task id."""

    key: int
    stage: str
    role: str
    required: int = 1
    approved_by: frozenset[str] = frozenset()  # whose parts are approved (delegators count)
    approvers: frozenset[str] = frozenset()  # the people who actually approved
    assignee: str | None = None


@dataclass(frozen=True)
class ContractState:
    stage: str
    status: str  # active | closed | withdrawn
    submitter: str
    tasks: tuple[TaskState, ...] = ()
    open_obligations: int = 0
    #: The contract's owner (user name): like the submitter, not an approver of its own
    #: contract in approval stages ("" when unknown or not needed by the caller).
    owner: str = ""


@dataclass(frozen=True)
class Actor:
    """Who acts: `username` types the command; `as_user` is whose role and approval count
    (the same person, or the colleague they stand in for under a delegation)."""

    username: str
    roles: frozenset[str]
    as_user: str | None = None

    @property
    def principal(self) -> str:
        return self.as_user or self.username

    @property
    def on_behalf_of(self) -> str | None:
        return self.as_user if self.as_user and self.as_user != self.username else None


@dataclass(frozen=True)
class Env:
    """The world as the machine may see it."""

    now: dt.datetime
    when: Mapping[str, Any] = field(default_factory=dict)
    holders: Mapping[str, int] = field(default_factory=dict)
    #: Which days count for `Nbd` SLAs (services pass the runtime's official calendar).
    calendar: BusinessDays = WEEKDAYS


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Submit:
    """Leave the entry stage by its `submit` action (first submission or a revision)."""


@dataclass(frozen=True)
class Decide:
    task: int
    verb: str  # approve | reject | request_changes
    actor: Actor
    comment: str | None = None


@dataclass(frozen=True)
class Complete:
    """Every obligation is settled: a `tracks: obligations` stage leaves by `complete`."""


@dataclass(frozen=True)
class Withdraw:
    """The owner takes back a contract that is not yet signed: its open tasks are
    cancelled and its status becomes `withdrawn` (the stage stays, for the record)."""

    actor: Actor
    reason: str


Action = Submit | Decide | Complete | Withdraw


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class OpenTask:
    stage: str
    role: str
    required: int
    due_at: dt.datetime | None
    escalate_to: str | None


@dataclass(frozen=True)
class AddApproval:
    task: int
    user: str
    on_behalf_of: str | None


@dataclass(frozen=True)
class CloseTask:
    task: int
    status: str  # approved | rejected | changes_requested | cancelled


@dataclass(frozen=True)
class MoveStage:
    from_stage: str
    to_stage: str
    via: str  # the action that moved it (approve, route, complete, ...)
    route: str | None = None  # the route's `when` when a route decided


Effect = OpenTask | AddApproval | CloseTask | MoveStage


@dataclass(frozen=True)
class Transition:
    state: ContractState
    effects: tuple[Effect, ...]

    @property
    def moves(self) -> list[MoveStage]:
        return [e for e in self.effects if isinstance(e, MoveStage)]

    @property
    def from_stage(self) -> str | None:
        return self.moves[0].from_stage if self.moves else None

    @property
    def to_stage(self) -> str | None:
        return self.moves[-1].to_stage if self.moves else None


# --------------------------------------------------------------------------- machine


def transition(wf: WorkflowSpec, state: ContractState, action: Action, env: Env) -> Transition:
    """Apply one action; raise if it is not allowed now (nothing changes then)."""
    if state.status != "active":
        raise Conflict(f"the contract is {state.status}; nothing more can happen in its workflow")
    stage = wf.stage(state.stage)
    effects: list[Effect] = []
    if isinstance(action, Submit):
        if "submit" not in stage.actions:
            raise Conflict(
                f"the contract is in {state.stage}; it can be submitted only from {wf.first.id}"
            )
        new = _enter(wf, state, stage.actions["submit"], "submit", env, effects)
        return Transition(new, tuple(effects))
    if isinstance(action, Complete):
        if stage.tracks != "obligations":
            raise Conflict(f"stage {state.stage} does not track obligations")
        if state.open_obligations:
            raise Conflict(f"{state.open_obligations} obligation(s) are still open")
        new = _enter(wf, state, stage.actions["complete"], "complete", env, effects)
        return Transition(new, tuple(effects))
    if isinstance(action, Withdraw):
        return _withdraw(wf, state, action)
    return _decide(wf, state, stage, action, env, effects)


def _withdraw(wf: WorkflowSpec, state: ContractState, action: Withdraw) -> Transition:
    """Before signing (the stages of `approval_stages`) a contract may be withdrawn; once a
    stage that tracks obligations was reached it is signed, and only an amendment or a
    termination changes it."""
    if not (action.reason and action.reason.strip()):
        raise InvalidInput("--reason: withdrawing a contract needs a reason saying why")
    if state.stage not in wf.approval_stages():
        raise Conflict(
            f"the contract is signed (stage {state.stage}); a signed contract cannot be withdrawn"
        )
    effects: tuple[Effect, ...] = tuple(CloseTask(t.key, "cancelled") for t in state.tasks)
    return Transition(replace(state, status="withdrawn", tasks=()), effects)


def _decide(
    wf: WorkflowSpec,
    state: ContractState,
    stage: StageSpec,
    action: Decide,
    env: Env,
    effects: list[Effect],
) -> Transition:
    task = next((t for t in state.tasks if t.key == action.task), None)
    if task is None:
        raise Conflict(f"task {action.task} is not open")
    verb = action.verb
    if verb not in TASK_ACTIONS:
        raise InvalidInput(f"action {verb!r}: use one of {', '.join(TASK_ACTIONS)}")
    if verb not in stage.actions:
        allowed = [a for a in TASK_ACTIONS if a in stage.actions]
        raise InvalidInput(
            f"action {verb!r}: stage {stage.id} allows only {', '.join(allowed) or 'no action'}"
        )
    actor = action.actor
    who = actor.principal
    if task.role not in actor.roles:
        raise Forbidden(f"{who} does not hold the role {task.role} that task {task.key} needs")
    if task.assignee is not None and task.assignee != who:
        raise Forbidden(f"task {task.key} is assigned to {task.assignee}")
    if verb == "approve":
        if not wf.self_approval_allowed(stage.id):
            # Four eyes: neither the submitter nor the owner approves their own contract,
            # acting for themselves or standing in for a colleague.
            people = (who, actor.username)
            if state.submitter in people:
                raise Forbidden(f"{state.submitter} submitted this contract and may not approve it")
            if state.owner and state.owner in people:
                raise Forbidden(f"{state.owner} owns this contract and may not approve it")
        if who in task.approved_by:
            raise Conflict(f"{who} has already approved task {task.key}")
        if actor.username in task.approvers:
            # One person gives one of the N approvals, whoever they stand in for.
            raise Conflict(f"{actor.username} has already approved task {task.key}")
        effects.append(AddApproval(task.key, actor.username, actor.on_behalf_of))
        approved = task.approved_by | {who}
        if len(approved) < task.required:
            approvers = task.approvers | {actor.username}
            tasks = tuple(
                replace(t, approved_by=approved, approvers=approvers) if t is task else t
                for t in state.tasks
            )
            return Transition(replace(state, tasks=tasks), tuple(effects))
        effects.append(CloseTask(task.key, "approved"))
        remaining = tuple(t for t in state.tasks if t is not task)
        if remaining:
            return Transition(replace(state, tasks=remaining), tuple(effects))
        target, route = _approve_target(stage, env)
        new = _enter(wf, replace(state, tasks=()), target, "approve", env, effects, route)
        return Transition(new, tuple(effects))
    if not (action.comment and action.comment.strip()):
        raise InvalidInput(f"--comment: {verb} needs a comment saying why")
    effects.append(CloseTask(task.key, CLOSED_STATUS[verb]))
    for other in state.tasks:
        if other is not task:
            effects.append(CloseTask(other.key, "cancelled"))
    new = _enter(wf, replace(state, tasks=()), stage.actions[verb], verb, env, effects)
    return Transition(new, tuple(effects))


def _approve_target(stage: StageSpec, env: Env) -> tuple[str, str | None]:
    """Routes are tried in order when the stage would leave by approve."""
    for route in stage.routes:
        if compile_when(route.when).evaluate(env.when):
            return route.to, route.when
    return stage.actions["approve"], None


def _enter(
    wf: WorkflowSpec,
    state: ContractState,
    target: str,
    via: str,
    env: Env,
    effects: list[Effect],
    route: str | None = None,
) -> ContractState:
    """Move into `target` and open its tasks; pass through stages with nothing to do."""
    current = state.stage
    for _ in range(MAX_HOPS):
        effects.append(MoveStage(current, target, via, route))
        stage = wf.stage(target)
        current = target
        if stage.final:
            return replace(state, stage=target, status="closed", tasks=())
        if stage.tracks == "obligations":
            if state.open_obligations == 0:
                target, via, route = stage.actions["complete"], "complete", None
                continue
            return replace(state, stage=target, tasks=())
        opened = _open_tasks(stage, env)
        if opened:
            effects.extend(opened)
            placeholders = tuple(
                TaskState(key=-(i + 1), stage=target, role=o.role, required=o.required)
                for i, o in enumerate(opened)
            )
            return replace(state, stage=target, tasks=placeholders)
        if "approve" in stage.actions:
            # No task entry applies (every `when` is false): the stage approves itself.
            target, route = _approve_target(stage, env)
            via = "approve"
            continue
        return replace(state, stage=target, tasks=())
    raise InvalidInput(f"workflow {wf.name}: more than {MAX_HOPS} stages passed in one step")


def _open_tasks(stage: StageSpec, env: Env) -> list[OpenTask]:
    out = []
    for spec in stage.tasks:
        if spec.when is not None and not compile_when(spec.when).evaluate(env.when):
            continue
        required = (
            max(1, int(env.holders.get(spec.role.value, 0)))
            if spec.approvals == "all"
            else int(spec.approvals)
        )
        out.append(
            OpenTask(
                stage=stage.id,
                role=spec.role.value,
                required=required,
                due_at=due_at(env.now, spec.due_in, env.calendar),
                escalate_to=spec.escalate_to.value if spec.escalate_to else None,
            )
        )
    return out
