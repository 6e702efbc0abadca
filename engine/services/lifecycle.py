"""Contract lifecycle use cases: submit, revise, act on tasks, fulfil or waive obligations,
delegate and reassign.

Each call is one transaction: load the stored state, ask the pure machine
(`engine.workflow.machine.transition`) what happens, apply its effects, append one audit
event (`engine.services.transitions` loads and writes). The first write is the contract
row's version-checked UPDATE (optimistic locking, and on PostgreSQL the row lock that
makes a racing writer wait and then fail), so two people acting at once cannot both win:
the loser gets `Conflict` (exit 1 / HTTP 409) and nothing of theirs is stored.

Signatures here are stable: the CLI and the web app call them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport
from engine.domain.views import ActOutcome, ContractView, DelegationView
from engine.domain.workflow import WorkflowSpec
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.services import audit
from engine.services import transitions as tx
from engine.services.contracts import read_contract
from engine.services.documents import revision_document, store_revision_document
from engine.services.evaluation_report import store_evaluation_report
from engine.services.runtime import Runtime
from engine.services.scoring import evaluate_and_store
from engine.services.transitions import Someone
from engine.services.views import (
    active_delegators,
    contract_view,
    current_contract,
    get_contract_row,
    show,
    term_changes,
)
from engine.services.workflows import latest_definition_id, spec_for
from engine.store import models as m
from engine.workflow.machine import (
    Actor,
    Complete,
    ContractState,
    Decide,
    Submit,
    Transition,
    transition,
)

if TYPE_CHECKING:
    from sqlalchemy import Table

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


def _table(model: type[m.Base]) -> Table:
    return cast("Table", model.__table__)


@dataclass(frozen=True)
class Person:
    """A user as the lifecycle needs them: who, and which roles (read per call, never
    cached: a role taken away applies to the next action)."""

    id: int
    username: str
    role_names: tuple[str, ...]


_USER_ROLES = (
    select(_table(m.User).c.id, _table(m.UserRole).c.role)
    .outerjoin(_table(m.UserRole), _table(m.UserRole).c.user_id == _table(m.User).c.id)
    .where(_table(m.User).c.username == bindparam("username"))
)


def get_user(session: Session, username: str) -> Person:
    """A user with their roles: one prebuilt statement of plain columns (no ORM objects to
    build; the users service's lookup takes two)."""
    rows = session.connection().execute(_USER_ROLES, {"username": username}).all()
    if not rows:
        raise NotFound(f"user {username!r} does not exist (add it with `contractflow users add`)")
    return Person(rows[0][0], username, tuple(sorted(r for _, r in rows if r is not None)))


def _evaluator_ready(rt: Runtime) -> None:
    """Start the risk evaluator before our transaction opens: building it reads the stored
    rule set in a transaction of its own, which on SQLite would wait for our write lock."""
    _ = rt.evaluator


def _lock(row: m.Contract, now: dt.datetime) -> None:
    """Bump the contract's version now: the UPDATE takes the row lock before any reads
    that the decision depends on are acted upon."""
    row.updated_at = now


def _require_role(user: Someone, roles: frozenset[str], what: str) -> None:
    if not roles & set(user.role_names):
        raise Forbidden(
            f"{user.username} may not {what} (needs one of: {', '.join(sorted(roles))})"
        )


def _checksum(terms: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(terms, sort_keys=True, default=str).encode()).hexdigest()


def _next_code(session: Session, contract: Contract, year: int) -> str:
    """SC-YYYY-NNNN (sales) or PO-YYYY-NNNN (purchases): the next free number.

    A counter row per prefix, bumped in place (the UPDATE locks it until our commit),
    makes this O(1) however many contracts exist; numbers taken by hand-written ids are
    skipped.
    """
    prefix = f"{'PO' if contract.direction.value == 'buy' else 'SC'}-{year}-"
    counters = _table(m.ContractCounter)
    conn = session.connection()
    while True:
        last = conn.scalar(
            update(counters)
            .where(counters.c.prefix == prefix)
            .values(last=counters.c.last + 1)
            .returning(counters.c.last)
        )
        if last is None:  # the first number of this prefix
            last = _highest_number(session, prefix) + 1
            conn.execute(insert(counters).values(prefix=prefix, last=last))
        code = f"{prefix}{last:04d}"
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


@dataclass(frozen=True)
class _Prepared:
    """What a new contract's submit computes before its transaction opens."""

    report: RiskReport
    document: dict[str, Any]  # the kept .docx as `documents` row values


def _prepare(rt: Runtime, contract: Contract) -> _Prepared:
    assert contract.id is not None
    return _Prepared(
        report=rt.evaluator.evaluate([contract], rt.today())[0],
        document=revision_document(rt, contract.id, 1, contract),
    )


def _store_new(
    session: Session,
    row: m.Contract,
    contract: Contract,
    prepared: _Prepared,
    user: Someone,
    source: str,
    now: dt.datetime,
) -> None:
    """Revision 1 of a contract just inserted, everywhere it lives (what `_store_revision`
    does for a revision, as plain INSERTs: a new contract has nothing to replace)."""
    terms = contract.model_dump(mode="json")
    conn = session.connection()  # plain Core: no ORM bookkeeping for rows we never load
    conn.execute(
        insert(_table(m.ContractRevision)),
        {
            "contract_id": row.id,
            "number": 1,
            "terms": terms,
            "source_name": source[:255],
            "checksum": _checksum(terms),
            "submitted_by_id": user.id,
            "submitted_at": now,
        },
    )
    conn.execute(insert(_table(m.Document)), {"contract_id": row.id, **prepared.document})
    if contract.guarantees:
        conn.execute(
            insert(_table(m.Guarantee)),
            [
                {
                    "contract_id": row.id,
                    "gid": g.id or "",
                    "kind": g.kind.value,
                    "amount": g.amount,
                    "issuer": g.issuer,
                    "expires_on": g.expires_on,
                }
                for g in contract.guarantees
            ],
        )
    if contract.obligations:
        conn.execute(
            insert(_table(m.Obligation)),
            [
                {
                    "contract_id": row.id,
                    "oid": ob.id,
                    "party": ob.party.value,
                    "kind": ob.kind.value,
                    "description": ob.description,
                    "due": ob.due,
                    "amount": ob.amount,
                    "status": ob.status.value,
                    "fulfilled_on": ob.fulfilled_on,
                    "owner": ob.owner,
                }
                for ob in contract.obligations
            ],
        )
    _insert_report(session, row.id, prepared.report)


def _insert_report(session: Session, contract_id: int, report: RiskReport) -> None:
    """A new contract's first evaluation and its flags (`scoring.store_report` without
    retiring an earlier one: there is none)."""
    from pydantic_core import to_jsonable_python

    conn = session.connection()
    evaluation_id = conn.scalar(
        insert(_table(m.RiskEvaluation))
        .values(
            contract_id=contract_id,
            revision=1,
            as_of=report.as_of,
            ruleset_checksum=report.ruleset_checksum,
            max_severity=report.max_severity.value,
            current=True,
        )
        .returning(_table(m.RiskEvaluation).c.id)
    )
    if report.flags:
        conn.execute(
            insert(_table(m.RiskFlag)),
            [
                {
                    "evaluation_id": evaluation_id,
                    "contract_id": contract_id,
                    "rule": flag.rule,
                    "category": flag.category,
                    "severity": flag.severity.value,
                    "message": flag.message,
                    "subject": flag.subject,
                    "evidence": json.loads(json.dumps(to_jsonable_python(flag.evidence))),
                }
                for flag in report.flags
            ],
        )


def _add_revision(
    session: Session,
    row: m.Contract,
    contract: Contract,
    user: Someone,
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


def _owner(session: Session, contract: Contract, submitter: Someone) -> int:
    """The owner's user id (the submitter unless the file names someone)."""
    if contract.owner is None or contract.owner == submitter.username:
        return submitter.id
    owner = session.scalar(select(m.User.id).where(m.User.username == contract.owner))
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
    """Submit an already-read `Contract` (the web app's upload path uses this).

    A new contract is scored and its document rendered before the write transaction
    opens (both need only the terms and the id), so the transaction holds its locks -
    SQLite's database lock, the new row's on PostgreSQL - only for the INSERTs.
    """
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
        fresh = new = True
    else:
        fresh = False  # a written id: a new contract, or a revision of a stored one
        with rt.db.reads() as session:
            user = get_user(session, username)
            _require_role(user, SUBMITTER_ROLES, "submit contracts")
            new = (
                session.scalar(select(m.Contract.id).where(m.Contract.code == contract.id)) is None
            )
    prepared = _prepare(rt, contract) if new else None
    with _unit_of_work(rt) as session:
        # The user and their role were checked a moment ago (taking the number, or
        # looking the id up): a role taken away in between applies from the next call.
        existing = (
            None  # the number was free when taken
            if fresh
            else session.scalar(select(m.Contract).where(m.Contract.code == contract.id))
        )
        if existing is not None:
            if workflow is not None:
                name = spec_for(session, existing.workflow_id).name
                if name != workflow:
                    raise InvalidInput(
                        f"--workflow: {contract.id} already runs on workflow {name}; "
                        "a revision stays on it"
                    )
            _revise_in(session, rt, existing, contract, user, source, now)
            return contract_view(session, rt, existing)
        if prepared is None:  # gone since we looked (cannot happen today; contracts stay)
            prepared = _prepare(rt, contract)
        definition_id = latest_definition_id(session, workflow or DEFAULT_WORKFLOW)
        spec = spec_for(session, definition_id)
        assert contract.id is not None
        owner_id = _owner(session, contract, user)
        row = m.Contract(
            code=contract.id,
            owner_id=owner_id,
            submitted_by_id=user.id,
            workflow_id=definition_id,
            stage=spec.first.id,
            status="active",
            current_revision=1,
            max_severity=prepared.report.max_severity.value,
            created_at=now,
            updated_at=now,
        )
        _terms_fields(row, contract, rt.risk_config.to_base(contract.amount, contract.currency))
        session.add(row)
        session.flush()
        _store_new(session, row, contract, prepared, user, source, now)
        _enter_workflow(
            session,
            rt,
            row,
            spec,
            contract,
            prepared.report,
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
    user: Someone,
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
    row.owner_id = _owner(session, contract, user)
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
    user: Someone,
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
    user: Someone,
    now: dt.datetime,
    action: str,
    details: dict[str, Any],
) -> None:
    """Submit the revision just stored into the workflow (tasks, stage, audit event)."""
    state = ContractState(
        stage=row.stage,
        status=row.status,
        submitter=user.username,
        open_obligations=sum(1 for o in contract.obligations if o.status.value == "open"),
    )
    when = tx.when_from_report(contract, row.amount_base, report)
    tr = transition(spec, state, Submit(), tx.env(rt, session, when, now))
    row.submitted_by_id = user.id
    tx.write(
        session,
        row,
        tr,
        {},
        now,
        action,
        {
            "actor_id": user.id,
            "revision": row.current_revision,
            "details": {
                **details,
                "moves": tx.moves(tr),
                "max_severity": report.max_severity.value,
            },
        },
        actor=user,
    )


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
    # The task, its contract (and the version our write will check), the submitter and
    # the open obligations in one statement: see `transitions` for why this order is safe.
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
    tx.write(
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
            "details": {"role": task.role, "moves": tx.moves(tr)},
        },
        actor=user,
        comment=comment,
        on_behalf_of=delegator,
    )
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
        tx.write(
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
    with rt.db.reads() as session:
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
