"""Contract lifecycle use cases: submit, revise, act on tasks, fulfil or waive obligations,
delegate and reassign.

Each call is one transaction: load the stored state, ask the pure machine
(`engine.workflow.machine.transition`) what happens, apply its effects, append one audit
event. The contract row's version is bumped first thing (optimistic locking, and on
PostgreSQL the row lock that makes a racing writer wait and then fail), so two people
acting at once cannot both win: the loser gets `Conflict` (exit 1 / HTTP 409) and nothing
of theirs is stored.

Signatures here are stable: the CLI and the web app call them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport
from engine.domain.views import ActOutcome, ContractView, DelegationView
from engine.domain.workflow import WorkflowSpec
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.expressions import context_for
from engine.services import audit
from engine.services.contracts import read_contract
from engine.services.documents import store_revision_document
from engine.services.evaluation_report import store_evaluation_report
from engine.services.runtime import Runtime
from engine.services.scoring import evaluate_and_store
from engine.services.views import (
    active_delegators,
    contract_view,
    current_contract,
    get_contract_row,
    show,
    term_changes,
)
from engine.services.workflows import latest_definition, spec_for
from engine.store import models as m
from engine.workflow.machine import (
    Actor,
    AddApproval,
    CloseTask,
    Complete,
    ContractState,
    Decide,
    Env,
    MoveStage,
    OpenTask,
    Submit,
    TaskState,
    Transition,
    transition,
)

DEFAULT_WORKFLOW = "standard"
SUBMITTER_ROLES = frozenset({"contract_admin", "admin"})
OBLIGATION_ROLES = frozenset({"contract_admin", "contract_manager", "admin"})
#: Entering a stage with this id writes and keeps the evaluation report.
EVALUATION_STAGE = "evaluation"
REASSIGN_ROLES = frozenset({"admin", "contract_manager"})


# --------------------------------------------------------------------------- plumbing


@contextmanager
def _unit_of_work(rt: Runtime) -> Iterator[Session]:
    """A transaction whose lost races surface as `Conflict`."""
    try:
        with rt.db.transaction() as session:
            yield session
    except StaleDataError:
        raise Conflict(
            "someone else changed this contract at the same time; nothing was changed, "
            "look at it again and retry"
        ) from None
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        if "uq_approvals_task_user" in text or ("approvals" in text and "unique" in text):
            raise Conflict("this approval is already recorded") from None
        if "uq_contracts_code" in text or ("contracts" in text and "code" in text):
            raise Conflict("a contract with this id was stored at the same time; retry") from None
        if "uq_audit_events_contract_seq" in text or "audit_events" in text:
            raise Conflict("someone else acted on this contract at the same time; retry") from None
        raise


def get_user(session: Session, username: str) -> m.User:
    """A user with their roles in one round trip (the users service's lookup takes two)."""
    from sqlalchemy.orm import joinedload

    user = session.scalar(
        select(m.User).where(m.User.username == username).options(joinedload(m.User.roles))
    )
    if user is None:
        raise NotFound(f"user {username!r} does not exist (add it with `contractflow users add`)")
    return user


def _evaluator_ready(rt: Runtime) -> None:
    """Start the risk evaluator before our transaction opens: building it reads the stored
    rule set in a transaction of its own, which on SQLite would wait for our write lock."""
    _ = rt.evaluator


def _lock(row: m.Contract, now: dt.datetime) -> None:
    """Bump the contract's version now: the UPDATE takes the row lock before any reads
    that the decision depends on are acted upon."""
    row.updated_at = now


class _Lazy(Mapping[str, Any]):
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


def _row_values(row: m.Contract) -> dict[str, Any]:
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


def _holders(session: Session) -> dict[str, int]:
    return {
        role: int(n)
        for role, n in session.execute(
            select(m.UserRole.role, func.count())
            .join(m.User, m.User.id == m.UserRole.user_id)
            .where(m.User.active.is_(True))
            .group_by(m.UserRole.role)
        )
    }


def _when_from_flags(
    session: Session, row: m.Contract, contract: Contract | None = None
) -> dict[str, Any]:
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


def _when_from_report(row: m.Contract, contract: Contract, report: RiskReport) -> dict[str, Any]:
    return context_for(
        contract,
        amount_base=row.amount_base,
        max_severity=report.max_severity.value,
        categories=report.categories,
        rules=sorted({f.rule for f in report.flags}),
        flag_count=len(report.flags),
    )


def _env(rt: Runtime, session: Session, when: Mapping[str, Any], now: dt.datetime) -> Env:
    return Env(
        now=now,
        when=when,
        holders=_Lazy(lambda: _holders(session)),
        holidays=frozenset(rt.risk_config.holidays),
    )


def _open_obligations(session: Session, contract_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(m.Obligation)
            .where(m.Obligation.contract_id == contract_id, m.Obligation.status == "open")
        )
        or 0
    )


def _state(
    session: Session, row: m.Contract, submitter: str
) -> tuple[ContractState, dict[int, m.Task]]:
    tasks = list(
        session.scalars(
            select(m.Task).where(
                m.Task.contract_id == row.id,
                m.Task.status == "open",
                m.Task.stage == row.stage,
                m.Task.revision == row.current_revision,
            )
        )
    )
    approvals: dict[int, set[int]] = {}  # whose part each approval counts as
    acted: dict[int, set[int]] = {}  # who typed it
    if tasks:
        for task_id, user_id, for_id in session.execute(
            select(m.Approval.task_id, m.Approval.user_id, m.Approval.on_behalf_of_id).where(
                m.Approval.task_id.in_([t.id for t in tasks])
            )
        ):
            approvals.setdefault(task_id, set()).add(for_id or user_id)
            acted.setdefault(task_id, set()).add(user_id)
    ids = (
        {t.assignee_id for t in tasks}
        | {u for s in approvals.values() for u in s}
        | {u for s in acted.values() for u in s}
    )
    names = (
        dict(session.execute(select(m.User.id, m.User.username).where(m.User.id.in_(ids))).all())
        if ids - {None}
        else {}
    )
    state = ContractState(
        stage=row.stage,
        status=row.status,
        submitter=submitter,
        tasks=tuple(
            TaskState(
                key=t.id,
                stage=t.stage,
                role=t.role,
                required=t.approvals_required,
                approved_by=frozenset(names[u] for u in approvals.get(t.id, set())),
                approvers=frozenset(names[u] for u in acted.get(t.id, set())),
                assignee=names.get(t.assignee_id) if t.assignee_id else None,
            )
            for t in tasks
        ),
        open_obligations=_open_obligations(session, row.id),
    )
    return state, {t.id: t for t in tasks}


def _apply(
    session: Session,
    row: m.Contract,
    tr: Transition,
    tasks: Mapping[int, m.Task],
    now: dt.datetime,
    actor: m.User | None = None,
    comment: str | None = None,
    on_behalf_of: m.User | None = None,
) -> None:
    """Write the machine's effects. Task rows touched get their version bumped too."""
    for effect in tr.effects:
        if isinstance(effect, OpenTask):
            session.add(
                m.Task(
                    contract_id=row.id,
                    revision=row.current_revision,
                    stage=effect.stage,
                    role=effect.role,
                    approvals_required=effect.required,
                    status="open",
                    due_at=effect.due_at,
                    escalate_to=effect.escalate_to,
                    created_at=now,
                )
            )
        elif isinstance(effect, AddApproval):
            assert actor is not None
            session.add(
                m.Approval(
                    task_id=effect.task,
                    user_id=actor.id,
                    on_behalf_of_id=on_behalf_of.id if on_behalf_of else None,
                    revision=row.current_revision,
                    at=now,
                )
            )
            flag_modified(tasks[effect.task], "status")
        elif isinstance(effect, CloseTask):
            task = tasks[effect.task]
            task.status = effect.status
            task.closed_at = now
            if effect.status != "cancelled" and actor is not None:
                task.decided_by_id = actor.id
                task.comment = comment
        elif isinstance(effect, MoveStage):
            row.stage = effect.to_stage
    row.status = tr.state.status


def _moves(tr: Transition) -> list[dict[str, Any]]:
    return [
        {
            "from": mv.from_stage,
            "to": mv.to_stage,
            "via": mv.via,
            **({"route": mv.route} if mv.route else {}),
        }
        for mv in tr.moves
    ]


def _require_role(user: m.User, roles: frozenset[str], what: str) -> None:
    if not roles & set(user.role_names):
        raise Forbidden(
            f"{user.username} may not {what} (needs one of: {', '.join(sorted(roles))})"
        )


def _checksum(terms: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(terms, sort_keys=True, default=str).encode()).hexdigest()


def _next_code(session: Session, contract: Contract, year: int) -> str:
    """SC-YYYY-NNNN (sales) or PO-YYYY-NNNN (purchases): the next free number.

    A counter row per prefix, locked for the transaction, makes this O(1) however many
    contracts exist; numbers taken by hand-written ids are skipped.
    """
    prefix = f"{'PO' if contract.direction.value == 'buy' else 'SC'}-{year}-"
    counter = session.get(m.ContractCounter, prefix, with_for_update=True)
    if counter is None:
        counter = m.ContractCounter(prefix=prefix, last=_highest_number(session, prefix))
        session.add(counter)
    while True:
        counter.last += 1
        code = f"{prefix}{counter.last:04d}"
        if session.scalar(select(m.Contract.id).where(m.Contract.code == code)) is None:
            return code


def _highest_number(session: Session, prefix: str) -> int:
    """Where a new counter starts: the highest number already used (one scan, once)."""
    tails = [
        c[len(prefix) :]
        for c in session.scalars(select(m.Contract.code).where(m.Contract.code.like(f"{prefix}%")))
    ]
    return max((int(t) for t in tails if t.isdigit()), default=0)


def _sync_items(session: Session, row: m.Contract, contract: Contract) -> None:
    """Guarantees and obligations follow the current revision. An obligation already
    fulfilled or waived stays so unless the new file says otherwise explicitly."""
    old = {
        o.oid: o
        for o in session.scalars(select(m.Obligation).where(m.Obligation.contract_id == row.id))
    }
    for stored in session.scalars(select(m.Guarantee).where(m.Guarantee.contract_id == row.id)):
        session.delete(stored)
    kept = {ob.id for ob in contract.obligations}
    for oid, o in old.items():
        if oid not in kept:
            session.delete(o)
    session.flush()
    for g in contract.guarantees:
        session.add(
            m.Guarantee(
                contract_id=row.id,
                gid=g.id or "",
                kind=g.kind.value,
                amount=g.amount,
                issuer=g.issuer,
                expires_on=g.expires_on,
            )
        )
    for ob in contract.obligations:
        target = old.get(ob.id)
        if target is None:
            target = m.Obligation(contract_id=row.id, oid=ob.id)
            session.add(target)
            status, fulfilled_on = ob.status.value, ob.fulfilled_on
        elif ob.status.value == "open" and target.status != "open":
            status, fulfilled_on = target.status, target.fulfilled_on
        else:
            status, fulfilled_on = ob.status.value, ob.fulfilled_on
        target.party = ob.party.value
        target.kind = ob.kind.value
        target.description = ob.description
        target.due = ob.due
        target.amount = ob.amount
        target.status = status
        target.fulfilled_on = fulfilled_on
        target.owner = ob.owner


def _add_revision(
    session: Session,
    row: m.Contract,
    contract: Contract,
    user: m.User,
    source: str,
    now: dt.datetime,
) -> dict[str, Any]:
    terms = contract.model_dump(mode="json")
    session.add(
        m.ContractRevision(
            contract_id=row.id,
            number=row.current_revision,
            terms=terms,
            source_name=source[:255],
            checksum=_checksum(terms),
            submitted_by_id=user.id,
            submitted_at=now,
        )
    )
    return terms


def _owner(session: Session, contract: Contract, submitter: m.User) -> m.User:
    if contract.owner is None:
        return submitter
    owner = session.scalar(select(m.User).where(m.User.username == contract.owner))
    if owner is None:
        raise InvalidInput(f"owner: user {contract.owner!r} does not exist")
    return owner


def _terms_fields(row: m.Contract, contract: Contract, amount_base: Any) -> None:
    row.title = contract.title
    row.direction = contract.direction.value
    row.counterparty_name = contract.counterparty.name
    row.currency = contract.currency
    row.amount = contract.amount
    row.amount_base = amount_base
    row.start_date = contract.start_date
    row.end_date = contract.end_date


# --------------------------------------------------------------------------- submit, revise


def submit(rt: Runtime, path: Path, username: str, workflow: str | None = None) -> ContractView:
    """`contractflow submit FILE`: store a draft and submit it into its workflow.

    A file whose `id` names a stored contract is a revision of it (see `revise`).
    """
    contract = read_contract(rt, path)
    return submit_contract(rt, contract, username, workflow=workflow, source=path.name)


def submit_contract(
    rt: Runtime,
    contract: Contract,
    username: str,
    *,
    workflow: str | None = None,
    source: str = "",
) -> ContractView:
    """Submit an already-read `Contract` (the web app's upload path uses this)."""
    now = rt.clock()
    _evaluator_ready(rt)
    if contract.id is None:
        # Taken in a short transaction of its own, so submits without an id do not queue
        # behind each other's whole submission (a failed submit leaves a gap: harmless).
        with _unit_of_work(rt) as session:
            user = get_user(session, username)
            _require_role(user, SUBMITTER_ROLES, "submit contracts")
            code = _next_code(session, contract, rt.today().year)
        contract = contract.model_copy(update={"id": code})
        fresh = True
    else:
        fresh = False
    with _unit_of_work(rt) as session:
        user = get_user(session, username)
        _require_role(user, SUBMITTER_ROLES, "submit contracts")
        if contract.id is not None and not fresh:
            existing = session.scalar(select(m.Contract).where(m.Contract.code == contract.id))
            if existing is not None:
                if workflow is not None:
                    name = session.scalar(
                        select(m.WorkflowDefinition.name).where(
                            m.WorkflowDefinition.id == existing.workflow_id
                        )
                    )
                    if name != workflow:
                        raise InvalidInput(
                            f"--workflow: {contract.id} already runs on workflow {name}; "
                            "a revision stays on it"
                        )
                _revise_in(session, rt, existing, contract, user, source, now)
                return contract_view(session, rt, existing)
        definition = latest_definition(session, workflow or DEFAULT_WORKFLOW)
        spec = spec_for(session, definition.id)
        assert contract.id is not None
        code = contract.id
        owner = _owner(session, contract, user)
        row = m.Contract(
            code=code,
            owner_id=owner.id,
            submitted_by_id=user.id,
            workflow_id=definition.id,
            stage=spec.first.id,
            status="active",
            current_revision=1,
            max_severity="none",
            created_at=now,
            updated_at=now,
        )
        _terms_fields(row, contract, rt.risk_config.to_base(contract.amount, contract.currency))
        session.add(row)
        session.flush()
        _, report = _store_revision(session, rt, row, contract, user, source, now)
        _enter_workflow(
            session,
            rt,
            row,
            spec,
            contract,
            report,
            user,
            now,
            "submit",
            {
                "workflow": spec.name,
                "version": spec.version,
                "source": source,
            },
        )
        return contract_view(session, rt, row)


def revise(rt: Runtime, code: str, path: Path, username: str) -> ContractView:
    """`contractflow revise CONTRACT FILE`: store a new revision and resubmit it.

    Allowed while the contract waits in its workflow's first stage (after
    `request_changes` or `reject`). Tasks of earlier revisions stay closed: their
    approvals do not count for the new terms, which go through review again.
    """
    contract = read_contract(rt, path)
    if contract.id is not None and contract.id != code:
        raise InvalidInput(f"{path}: id: {contract.id} is not the contract {code} being revised")
    now = rt.clock()
    _evaluator_ready(rt)
    with _unit_of_work(rt) as session:
        user = get_user(session, username)
        _require_role(user, SUBMITTER_ROLES, "revise contracts")
        row = get_contract_row(session, code)
        _revise_in(session, rt, row, contract.model_copy(update={"id": code}), user, path.name, now)
        return contract_view(session, rt, row)


def _revise_in(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    contract: Contract,
    user: m.User,
    source: str,
    now: dt.datetime,
) -> None:
    spec = spec_for(session, row.workflow_id)
    if row.status != "active" or row.stage != spec.first.id:
        raise Conflict(
            f"{row.code} is in {row.stage} ({row.status}); a revision can be submitted only "
            f"while it is back in {spec.first.id} (after request_changes or reject)"
        )
    _lock(row, now)
    session.flush()
    previous = session.scalar(
        select(m.ContractRevision.terms).where(
            m.ContractRevision.contract_id == row.id,
            m.ContractRevision.number == row.current_revision,
        )
    )
    owner = _owner(session, contract, user)
    row.owner_id = owner.id
    row.current_revision += 1
    _terms_fields(row, contract, rt.risk_config.to_base(contract.amount, contract.currency))
    terms, report = _store_revision(session, rt, row, contract, user, source, now)
    changes = [c.field for c in term_changes(previous or {}, terms)]
    _enter_workflow(
        session,
        rt,
        row,
        spec,
        contract,
        report,
        user,
        now,
        "revise",
        {
            "source": source,
            "changed": changes,
        },
    )


def _store_revision(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    contract: Contract,
    user: m.User,
    source: str,
    now: dt.datetime,
) -> tuple[dict[str, Any], RiskReport]:
    """The terms of `row`'s current revision everywhere they live: the revision row, its
    kept document, the guarantees and obligations tables, and its risk flags."""
    terms = _add_revision(session, row, contract, user, source, now)
    store_revision_document(session, rt, row, row.current_revision, contract)
    _sync_items(session, row, contract)
    session.flush()
    return terms, evaluate_and_store(session, rt, row, contract)


def _enter_workflow(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    spec: WorkflowSpec,
    contract: Contract,
    report: RiskReport,
    user: m.User,
    now: dt.datetime,
    action: str,
    details: dict[str, Any],
) -> None:
    state = ContractState(
        stage=row.stage,
        status=row.status,
        submitter=user.username,
        open_obligations=_open_obligations(session, row.id),
    )
    env = _env(rt, session, _when_from_report(row, contract, report), now)
    tr = transition(spec, state, Submit(), env)
    from_stage = row.stage
    _apply(session, row, tr, {}, now, actor=user)
    audit.append(
        session,
        row.id,
        action,
        at=now,
        actor_id=user.id,
        from_stage=from_stage,
        to_stage=row.stage,
        revision=row.current_revision,
        details={**details, "moves": _moves(tr), "max_severity": report.max_severity.value},
    )
    row.submitted_by_id = user.id


# --------------------------------------------------------------------------- act


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
    with _unit_of_work(rt) as session:
        row, outcome = _decide_in(session, rt, task_id, action, username, comment, on_behalf_of)
        view = contract_view(session, rt, row)
    if _keep_evaluation_report(rt, outcome.contract, outcome.from_stage, outcome.stage):
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
    with _unit_of_work(rt) as session:
        outcome = _decide_in(session, rt, task_id, action, username, comment, on_behalf_of)[1]
    _keep_evaluation_report(rt, outcome.contract, outcome.from_stage, outcome.stage)
    return outcome


def _decide_in(
    session: Session,
    rt: Runtime,
    task_id: int,
    action: str,
    username: str,
    comment: str | None,
    on_behalf_of: str | None,
) -> tuple[m.Contract, ActOutcome]:
    now = rt.clock()
    comment = comment.strip() if comment else None
    task = session.get(m.Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    if task.status != "open":
        raise Conflict(f"task {task_id} is {task.status.replace('_', ' ')}, not open")
    user = get_user(session, username)
    row = session.get(m.Contract, task.contract_id)
    assert row is not None
    if task.stage != row.stage or task.revision != row.current_revision:
        raise Conflict(f"task {task_id} belongs to an earlier step of {row.code}")
    _lock(row, now)
    session.flush()
    submitter = session.scalar(select(m.User.username).where(m.User.id == row.submitted_by_id))
    state, tasks = _state(session, row, submitter or "")
    principal = _principal(session, rt, user, task, state, action, on_behalf_of)
    spec = spec_for(session, row.workflow_id)
    actor = Actor(
        username=user.username,
        roles=frozenset(principal.role_names),
        as_user=principal.username,
    )
    when = _Lazy(lambda: _when_from_flags(session, row), known=_row_values(row))
    env = _env(rt, session, when, now)
    tr = transition(spec, state, Decide(task.id, action, actor, comment), env)
    from_stage = row.stage
    delegator = principal if principal.id != user.id else None
    _apply(session, row, tr, tasks, now, actor=user, comment=comment, on_behalf_of=delegator)
    audit.append(
        session,
        row.id,
        action,
        at=now,
        actor_id=user.id,
        on_behalf_of_id=delegator.id if delegator else None,
        task_id=task.id,
        from_stage=from_stage,
        to_stage=row.stage,
        revision=row.current_revision,
        comment=comment,
        details={"role": task.role, "moves": _moves(tr)},
    )
    session.flush()
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
    user: m.User,
    task: m.Task,
    state: ContractState,
    action: str,
    on_behalf_of: str | None,
) -> m.User:
    """Whose part the action is: the user's own, or a delegator's (delegation in force)."""
    if on_behalf_of is not None and on_behalf_of != user.username:
        delegators = active_delegators(session, user.id, rt.today())
        chosen = next((d for d in delegators if d.username == on_behalf_of), None)
        if chosen is None:
            raise Forbidden(f"{on_behalf_of} has not delegated to {user.username} for today")
        return chosen
    open_task = next(t for t in state.tasks if t.key == task.id)

    def can(p: m.User) -> bool:
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


# --------------------------------------------------------------------------- obligations


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
    _evaluator_ready(rt)
    with _unit_of_work(rt) as session:
        user = get_user(session, username)
        row = get_contract_row(session, code)
        if row.owner_id != user.id:
            _require_role(user, OBLIGATION_ROLES, "record obligations")
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
        _lock(row, now)
        session.flush()
        ob.status = status
        ob.fulfilled_on = (on or rt.today()) if status == "fulfilled" else None
        session.flush()
        spec = spec_for(session, row.workflow_id)
        from_stage = row.stage
        moves: list[dict[str, Any]] = []
        contract = current_contract(session, row)
        evaluate_and_store(session, rt, row, contract)
        if (
            spec.stage(row.stage).tracks == "obligations"
            and _open_obligations(session, row.id) == 0
        ):
            submitter = session.scalar(
                select(m.User.username).where(m.User.id == row.submitted_by_id)
            )
            state, tasks = _state(session, row, submitter or "")
            env = _env(rt, session, _Lazy(lambda: _when_from_flags(session, row, contract)), now)
            tr = transition(spec, state, Complete(), env)
            _apply(session, row, tr, tasks, now, actor=user)
            moves = _moves(tr)
        audit.append(
            session,
            row.id,
            "fulfil_obligation" if status == "fulfilled" else "waive_obligation",
            at=now,
            actor_id=user.id,
            from_stage=from_stage,
            to_stage=row.stage,
            revision=row.current_revision,
            comment=comment,
            details={
                "obligation": oid,
                "status": status,
                "on": ob.fulfilled_on.isoformat() if ob.fulfilled_on else None,
                "moves": moves,
            },
        )
        session.flush()
        view = contract_view(session, rt, row)
    if _keep_evaluation_report(rt, code, from_stage, view.stage):
        return show(rt, code)
    return view


def _keep_evaluation_report(rt: Runtime, code: str, from_stage: str, to_stage: str) -> bool:
    """Entering the `evaluation` stage writes the evaluation report and keeps it, so the
    stage's task points to a document (docs/documents.md). It is written after the commit
    because it reads the committed history; if it cannot be written the move still stands
    and the report is produced on demand (`contractflow report`)."""
    if to_stage != EVALUATION_STAGE or from_stage == EVALUATION_STAGE:
        return False
    store_evaluation_report(rt, code)
    return True


# --------------------------------------------------------------------------- people


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
    with _unit_of_work(rt) as session:
        actor = get_user(session, username)
        giver = get_user(session, from_user) if from_user else actor
        if giver.id != actor.id:
            _require_role(actor, frozenset({"admin"}), "delegate for someone else")
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
    with rt.db.sessions() as session:
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
    with _unit_of_work(rt) as session:
        actor = get_user(session, username)
        _require_role(actor, REASSIGN_ROLES, "reassign tasks")
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
        _lock(row, now)
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
