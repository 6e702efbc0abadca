"""Reading contracts and tasks as views (what `show`, `tasks` and the web pages print).

Every view is built with a fixed number of queries (no per-row lookups: relationships
are `lazy="raise"`), so a long history or task list costs the same handful of round trips.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    Row,
    Select,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.domain.agreement import term_warnings
from engine.domain.contract import Contract
from engine.domain.risk import Flag, Severity
from engine.domain.views import (
    AmendmentView,
    ContractSummary,
    ContractView,
    GuaranteeView,
    HistoryEntry,
    ObligationView,
    RevisionView,
    TaskView,
    TermChange,
)
from engine.errors import NotFound
from engine.services.runtime import Runtime
from engine.store import models as m

if TYPE_CHECKING:
    from sqlalchemy import Table

#: A stored task: the ORM object or a row of the `tasks` table (same attribute names).
TaskRow = m.Task | Row[Any]


def get_contract_row(session: Session, code: str) -> m.Contract:
    row = session.scalar(select(m.Contract).where(m.Contract.code == code))
    if row is None:
        raise NotFound(f"contract {code!r} does not exist")
    return row


def _table(model: type[m.Base]) -> Table:
    return cast("Table", model.__table__)


# Views are read on every `show`, `act` and `submit`, so their statements are built once
# here and run as plain Core statements on the session's connection: no expression
# building and no ORM objects per call (about half of each statement's CPU time).
_USERS, _TASKS, _APPROVALS = _table(m.User), _table(m.Task), _table(m.Approval)
_EVENTS, _REVISIONS = _table(m.AuditEvent), _table(m.ContractRevision)
_OBLIGATIONS, _GUARANTEES = _table(m.Obligation), _table(m.Guarantee)
_FLAGS, _EVALUATIONS = _table(m.RiskFlag), _table(m.RiskEvaluation)
_NAMES_OF = select(_USERS.c.id, _USERS.c.username).where(
    _USERS.c.id.in_(bindparam("ids", expanding=True))
)
_APPROVALS_OF = (
    select(_APPROVALS.c.task_id, _APPROVALS.c.user_id, _APPROVALS.c.on_behalf_of_id)
    .where(_APPROVALS.c.task_id.in_(bindparam("tasks", expanding=True)))
    .order_by(_APPROVALS.c.id)
)
_FLAGS_OF = (
    select(
        _FLAGS.c.rule,
        _FLAGS.c.category,
        _FLAGS.c.severity,
        _FLAGS.c.message,
        _FLAGS.c.subject,
        _FLAGS.c.evidence,
    )
    .join(_EVALUATIONS, _EVALUATIONS.c.id == _FLAGS.c.evaluation_id)
    .where(_FLAGS.c.contract_id == bindparam("cid"), _EVALUATIONS.c.current.is_(True))
    .order_by(_FLAGS.c.id)
)
_TASKS_OF = select(_TASKS).where(_TASKS.c.contract_id == bindparam("cid")).order_by(_TASKS.c.id)
_EVENTS_OF = (
    select(_EVENTS).where(_EVENTS.c.contract_id == bindparam("cid")).order_by(_EVENTS.c.seq)
)
_REVISIONS_OF = (
    select(
        _REVISIONS.c.number,
        _REVISIONS.c.terms,
        _REVISIONS.c.source_name,
        _REVISIONS.c.submitted_by_id,
        _REVISIONS.c.submitted_at,
    )
    .where(_REVISIONS.c.contract_id == bindparam("cid"))
    .order_by(_REVISIONS.c.number)
)
_OBLIGATIONS_OF = (
    select(_OBLIGATIONS)
    .where(_OBLIGATIONS.c.contract_id == bindparam("cid"))
    .order_by(_OBLIGATIONS.c.id)
)
_AMENDMENTS = _table(m.Amendment)
_AMENDMENTS_OF = (
    select(_AMENDMENTS)
    .where(_AMENDMENTS.c.contract_id == bindparam("cid"))
    .order_by(_AMENDMENTS.c.number)
)
_GUARANTEES_OF = (
    select(_GUARANTEES)
    .where(_GUARANTEES.c.contract_id == bindparam("cid"))
    .order_by(_GUARANTEES.c.id)
)


def _rows(session: Session, statement: Executable, **params: Any) -> Sequence[Any]:
    """Run a prebuilt Core statement in the session's transaction (after flushing what the
    session holds, so the rows include this transaction's own changes)."""
    session.flush()
    return session.connection().execute(statement, params).all()


def usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {i: name for i, name in _rows(session, _NAMES_OF, ids=sorted(wanted))}


def current_flags(session: Session, contract_id: int) -> list[Flag]:
    flags = [
        Flag(
            rule=f.rule,
            category=f.category,
            severity=Severity(f.severity),
            message=f.message,
            subject=f.subject,
            evidence=dict(f.evidence or {}),
        )
        for f in _rows(session, _FLAGS_OF, cid=contract_id)
    ]
    return sorted(flags, key=lambda f: f.sort_key)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"payment_terms": {"net_days": 60}} -> {"payment_terms.net_days": 60}; lists of
    items with an `id` are keyed by it (`obligations[OB-1].due`), others by position."""
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, item in enumerate(value):
            key = item.get("id") if isinstance(item.get("id"), str) else str(i)
            out.update(flatten(item, f"{prefix}[{key}]"))
    else:
        out[prefix] = value
    return out


def term_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[TermChange]:
    """Which terms differ between two revisions (field paths, old and new values)."""
    old, new = flatten(before), flatten(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        if key == "id":
            continue
        a, b = old.get(key), new.get(key)
        if _norm(a) != _norm(b):
            changes.append(TermChange(field=key, before=a, after=b))
    return changes


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _approvals(session: Session, tasks: Sequence[TaskRow]) -> dict[int, list[int]]:
    """Task id -> the users whose part each approval counts as (the delegator, if any)."""
    approvals: dict[int, list[int]] = {}
    if tasks:
        for task_id, user_id, for_id in _rows(session, _APPROVALS_OF, tasks=[t.id for t in tasks]):
            approvals.setdefault(task_id, []).append(for_id or user_id)
    return approvals


def _task_user_ids(
    tasks: Sequence[TaskRow], approvals: Mapping[int, list[int]]
) -> list[int | None]:
    return (
        [t.assignee_id for t in tasks]
        + [t.decided_by_id for t in tasks]
        + [u for ids in approvals.values() for u in ids]
    )


def task_views(
    session: Session,
    tasks: Sequence[TaskRow],
    codes: Mapping[int, tuple[str, str]],
    now: dt.datetime,
    *,
    approvals: Mapping[int, list[int]] | None = None,
    names: Mapping[int, str] | None = None,
    amendments: Mapping[int, int] | None = None,
) -> list[TaskView]:
    """Views for a list of tasks: one query for approvals, one for user names (none when
    the caller has read them already), one for amendment numbers (only when a task
    belongs to an amendment and the caller has not read them)."""
    if approvals is None:
        approvals = _approvals(session, tasks)
    if amendments is None:
        wanted = {t.amendment_id for t in tasks if t.amendment_id is not None}
        amendments = (
            dict(
                session.execute(
                    select(m.Amendment.id, m.Amendment.number).where(m.Amendment.id.in_(wanted))
                ).all()
            )
            if wanted
            else {}
        )
    if names is None:
        names = usernames(session, _task_user_ids(tasks, approvals))
    out = []
    for t in tasks:
        code, title = codes[t.contract_id]
        out.append(
            TaskView(
                id=t.id,
                contract=code,
                contract_title=title,
                stage=t.stage,
                role=t.role,
                assignee=names.get(t.assignee_id) if t.assignee_id else None,
                due=t.due_at,
                status=t.status,
                overdue=t.status == "open" and t.due_at is not None and t.due_at < now,
                revision=t.revision,
                approvals_required=t.approvals_required,
                approved_by=[names[u] for u in approvals.get(t.id, []) if u in names],
                escalate_to=t.escalate_to,
                escalated_at=t.escalated_at,
                created_at=t.created_at,
                closed_at=t.closed_at,
                decided_by=names.get(t.decided_by_id) if t.decided_by_id else None,
                comment=t.comment,
                amendment=amendments.get(t.amendment_id) if t.amendment_id else None,
            )
        )
    return out


def contract_view(session: Session, rt: Runtime, row: m.Contract) -> ContractView:
    from engine.services.workflows import spec_for

    wf = spec_for(session, row.workflow_id)  # name and version, cached per engine
    tasks = _rows(session, _TASKS_OF, cid=row.id)
    events = _rows(session, _EVENTS_OF, cid=row.id)
    revisions = _rows(session, _REVISIONS_OF, cid=row.id)
    obligations = _rows(session, _OBLIGATIONS_OF, cid=row.id)
    guarantees = _rows(session, _GUARANTEES_OF, cid=row.id)
    # Amendments and renewal links cost no query for a contract without them: its audit
    # trail (read anyway) has an `amend` event for each amendment and a `renew` event when
    # it was renewed; a successor's `submit` names the contract it renews.
    actions = {e.action for e in events}
    amendments = _rows(session, _AMENDMENTS_OF, cid=row.id) if "amend" in actions else []
    renewed_by = next(
        ((e.details or {}).get("renewed_by") for e in reversed(events) if e.action == "renew"), None
    )
    renews = (
        next(((e.details or {}).get("renews") for e in events if e.action == "submit"), None)
        if row.renews_id is not None
        else None
    )
    approvals = _approvals(session, tasks)
    names = usernames(  # everyone the view names, in one query
        session,
        [row.owner_id, row.submitted_by_id]
        + [a.submitted_by_id for a in amendments]
        + [e.actor_id for e in events]
        + [e.on_behalf_of_id for e in events]
        + [r.submitted_by_id for r in revisions]
        + _task_user_ids(tasks, approvals),
    )
    now = rt.clock()
    rev_views = []
    previous: dict[str, Any] | None = None
    for rev in revisions:
        rev_views.append(
            RevisionView(
                number=rev.number,
                submitted_by=names.get(rev.submitted_by_id, "?"),
                submitted_at=rev.submitted_at,
                source=rev.source_name,
                changes=term_changes(previous, rev.terms) if previous is not None else [],
            )
        )
        previous = rev.terms
    current_terms = next(
        (r.terms for r in revisions if r.number == row.current_revision),
        revisions[-1].terms if revisions else {},
    )
    return ContractView(
        id=row.code,
        title=row.title,
        stage=row.stage,
        status=row.status,
        workflow=wf.name,
        workflow_version=wf.version,
        max_severity=row.max_severity,
        flags=current_flags(session, row.id),
        tasks=task_views(
            session,
            tasks,
            {row.id: (row.code, row.title)},
            now,
            approvals=approvals,
            names=names,
            amendments={a.id: a.number for a in amendments},
        ),
        history=[
            HistoryEntry(
                seq=e.seq,
                at=e.at,
                action=e.action,
                actor=names.get(e.actor_id) if e.actor_id else None,
                on_behalf_of=names.get(e.on_behalf_of_id) if e.on_behalf_of_id else None,
                task=e.task_id,
                from_stage=e.from_stage,
                to_stage=e.to_stage,
                revision=e.revision,
                comment=e.comment,
                details=dict(e.details or {}),
            )
            for e in events
        ],
        direction=row.direction,
        counterparty=row.counterparty_name,
        currency=row.currency,
        amount=row.amount,
        amount_base=row.amount_base,
        owner=names.get(row.owner_id, "?"),
        submitted_by=names.get(row.submitted_by_id, "?"),
        revision=row.current_revision,
        revisions=rev_views,
        obligations=[
            ObligationView(
                id=o.oid,
                party=o.party,
                kind=o.kind,
                description=o.description,
                due=o.due,
                amount=o.amount,
                status=o.status,
                fulfilled_on=o.fulfilled_on,
                owner=o.owner,
            )
            for o in obligations
        ],
        guarantees=[
            GuaranteeView(
                id=g.gid, kind=g.kind, amount=g.amount, issuer=g.issuer, expires_on=g.expires_on
            )
            for g in guarantees
        ],
        terms=dict(current_terms),
        amendments=[_amendment_view(session, a, names) for a in amendments],
        renews=renews,
        renewed_by=renewed_by,
        terminated_on=row.terminated_on,
        warnings=term_warnings(current_terms),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _amendment_view(session: Session, a: Row[Any], names: Mapping[int, str]) -> AmendmentView:
    from engine.services.workflows import spec_for

    wf = spec_for(session, a.workflow_id)
    return AmendmentView(
        number=a.number,
        status=a.status,
        reason=a.reason,
        changes=[TermChange.model_validate(c) for c in a.changes or []],
        stage=a.stage,
        workflow=wf.name,
        workflow_version=wf.version,
        submitted_by=names.get(a.submitted_by_id, "?"),
        submitted_at=a.created_at,
        closed_at=a.closed_at,
        base_revision=a.base_revision,
        revision=a.revision,
        max_severity=a.max_severity,
    )


def show(rt: Runtime, code: str) -> ContractView:
    """One contract with its flags, tasks, history, revisions and obligations."""
    with rt.db.reads() as session:
        return contract_view(session, rt, get_contract_row(session, code))


def current_contract(session: Session, row: m.Contract) -> Contract:
    """The current revision's terms, with obligation statuses as tracked in the table."""
    terms = session.scalar(
        select(m.ContractRevision.terms).where(
            m.ContractRevision.contract_id == row.id,
            m.ContractRevision.number == row.current_revision,
        )
    )
    terms = dict(terms or {})
    tracked = {
        o.oid: o
        for o in session.scalars(select(m.Obligation).where(m.Obligation.contract_id == row.id))
    }
    obligations = []
    for ob in terms.get("obligations") or []:
        state = tracked.get(ob.get("id"))
        if state is not None:
            fulfilled = state.fulfilled_on.isoformat() if state.fulfilled_on else None
            ob = {**ob, "status": state.status, "fulfilled_on": fulfilled}
        obligations.append(ob)
    terms["obligations"] = obligations
    return Contract.model_validate(terms)


#: contract, workflow name, workflow version, owner's user name
SummarySelect = Select[m.Contract, str, int, str]


def summaries_query(status: str | None = None, stage: str | None = None) -> SummarySelect:
    """Contract summaries, most recently changed first; callers add limits and filters."""
    query = (
        select(m.Contract, m.WorkflowDefinition.name, m.WorkflowDefinition.version, m.User.username)
        .join(m.WorkflowDefinition, m.WorkflowDefinition.id == m.Contract.workflow_id)
        .join(m.User, m.User.id == m.Contract.owner_id)
        .order_by(m.Contract.updated_at.desc(), m.Contract.id.desc())
    )
    if status:
        query = query.where(m.Contract.status == status)
    if stage:
        query = query.where(m.Contract.stage == stage)
    return query


def summaries(session: Session, query: SummarySelect) -> list[ContractSummary]:
    """Run a `summaries_query` into one `ContractSummary` per row."""
    return [
        ContractSummary(
            id=c.code,
            title=c.title,
            stage=c.stage,
            status=c.status,
            workflow=name,
            workflow_version=version,
            max_severity=c.max_severity,
            owner=owner,
            amount=c.amount,
            currency=c.currency,
            updated_at=c.updated_at,
        )
        for c, name, version, owner in session.execute(query)
    ]


def list_contracts(
    rt: Runtime, *, status: str | None = None, stage: str | None = None, limit: int = 500
) -> list[ContractSummary]:
    """Contracts, most recently changed first (for lists in the CLI and web app)."""
    with rt.db.reads() as session:
        return summaries(session, summaries_query(status, stage).limit(limit))


def active_delegators(session: Session, user_id: int, today: dt.date) -> list[m.User]:
    """Users who have delegated their tasks to `user_id` for today."""
    return list(
        session.scalars(
            select(m.User)
            .join(m.Delegation, m.Delegation.from_user_id == m.User.id)
            .where(
                m.Delegation.to_user_id == user_id,
                m.Delegation.starts_on <= today,
                m.Delegation.ends_on >= today,
                m.User.active.is_(True),
            )
            .order_by(m.User.username)
        )
    )


def not_approved_by(user_ids: list[int], *, by_part: bool = False) -> ColumnElement[bool]:
    """Open tasks on which not every one of `user_ids` has approved yet.

    An approval is matched by who gave it, or with `by_part` by whose part it is (the
    delegator, when given on their behalf), as `contractflow tasks` counts them.

    Only a task needing more than one approval can be open and carry an approval (the one
    approval a single-approval task needs closes it), so the probe runs only for those:
    without that, a page of a reviewer with 50,000 open tasks probed `approvals` once per
    task walked. The probe is a correlated scalar subquery inside CASE so that PostgreSQL
    looks each such task up in `uq_approvals_task_user` instead of hashing every approval
    the user ever gave (how it may plan a NOT EXISTS here)."""
    approver: ColumnElement[int] | InstrumentedAttribute[int] = (
        func.coalesce(m.Approval.on_behalf_of_id, m.Approval.user_id)
        if by_part
        else m.Approval.user_id
    )
    missing = [
        select(literal(1))
        .where(m.Approval.task_id == m.Task.id, approver == uid)
        .limit(1)
        .scalar_subquery()
        .is_(None)
        for uid in user_ids
    ]
    return case((m.Task.approvals_required > 1, or_(*missing)), else_=true())


#: `contractflow tasks` and `GET /api/tasks` show this many tasks unless told otherwise.
TASKS_PAGE = 100
#: The most tasks one page may hold.
TASKS_PAGE_MAX = 1000


def list_tasks(
    rt: Runtime,
    username: str | None,
    all_tasks: bool = False,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[TaskView]:
    """Open tasks the user may act on (own roles, assignments, delegations); overdue first;
    before them the contracts handed back to the user to revise (`kind: revise`).

    With `all_tasks`, every open task. A task the user (or the colleague they stand in for)
    has already approved is left out: their part is done. Order: due date (so the overdue
    come first; no due date last), then task id.

    `limit`/`offset` page through them (None: all). A page is found in the database, not by
    loading every task: each group of tasks (unassigned tasks of one role; tasks assigned
    to the people in scope) is read in due-date order from its index up to
    `offset + limit` rows and the groups are merged, so a page costs about the same with a
    hundred or fifty thousand open tasks.
    """
    from engine.services.hand_back import hand_back_entries
    from engine.services.users import get_user

    now = rt.clock()
    with rt.db.reads() as session:
        # Contracts handed back to the user come first (`kind: revise`, SPEC section 12);
        # the page continues with approval tasks.
        if all_tasks:
            revise = hand_back_entries(session, None)
        else:
            if username is None:
                raise NotFound("no acting user")
            revise = hand_back_entries(session, [get_user(session, username).id])
        head = revise[offset : None if limit is None else offset + limit]
        offset = max(0, offset - len(revise))
        if limit is not None:
            limit -= len(head)
            if limit <= 0:
                return head
        # Every task's role is a row of `roles` (a foreign key), so one group per role
        # covers every open task, each read from the (role, due date) index in order.
        branches: list[list[ColumnElement[bool]]] = [
            [m.Task.role == r] for r in session.scalars(select(m.Role.name).order_by(m.Role.name))
        ]
        hide: list[ColumnElement[bool]] = []
        principals: list[m.User] = []
        if not all_tasks:
            if username is None:
                raise NotFound("no acting user")
            user = get_user(session, username)
            principals = [user, *active_delegators(session, user.id, rt.today())]
            roles = sorted({r for p in principals for r in p.role_names})
            # Disjoint groups: unassigned tasks of each role, and tasks assigned to one of us.
            branches = [[m.Task.assignee_id.is_(None), m.Task.role == r] for r in roles]
            branches.append([m.Task.assignee_id.in_([p.id for p in principals])])
            # Left out when every one of us has already approved it (an approval counts
            # for the person whose part it is: the delegator, when made on their behalf).
            hide.append(not_approved_by([p.id for p in principals], by_part=True))
        due = m.Task.due_at.asc().nulls_last()

        def group(where: list[ColumnElement[bool]], rows: int | None) -> Any:
            query = select(m.Task.id, m.Task.due_at).where(m.Task.status == "open", *where, *hide)
            query = query.order_by(due, m.Task.id)
            return query if rows is None else query.limit(rows)

        need = None if limit is None else offset + limit
        merged = union_all(*(group(w, need).subquery().select() for w in branches)).subquery()
        page = select(merged.c.id, merged.c.due_at).order_by(
            merged.c.due_at.asc().nulls_last(), merged.c.id
        )
        if limit is not None:
            page = page.limit(limit)
        if offset:
            page = page.offset(offset)
        chosen = page.subquery()
        tasks = list(
            session.scalars(
                select(m.Task)
                .join(chosen, chosen.c.id == m.Task.id)
                .order_by(chosen.c.due_at.asc().nulls_last(), chosen.c.id)
            )
        )
        codes = {
            cid: (code, title)
            for cid, code, title in session.execute(
                select(m.Contract.id, m.Contract.code, m.Contract.title).where(
                    m.Contract.id.in_({t.contract_id for t in tasks})
                )
            )
        }
        return head + task_views(session, tasks, codes, now)
