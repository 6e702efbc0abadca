"""A reviewer's inbox: their open tasks, one page at a time, filtered and sorted in SQL.

Whose task is it: an open task with no assignee belongs to every holder of its role; an
assigned task belongs to its assignee. A user also sees the tasks of colleagues who
delegated to them today (marked `on_behalf_of`), and no longer sees a multi-approval task
they already approved. This matches what the workflow services allow when acting.

The query walks the partial index of open tasks by (role, due date) and the assignee
index, and returns one page (`LIMIT`), so its cost follows the page size rather than the
number of contracts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, bindparam, case, func, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from engine.domain.risk import Severity
from engine.services import access
from engine.services.auth import Principal
from engine.services.runtime import Runtime
from engine.services.views import not_approved_by
from engine.store import models as m

SortKey = Literal["due", "severity", "contract", "amount", "stage", "created"]
MAX_PER_PAGE = 200
COUNT_CAP = 1000
LOW_RISK = ("none", "low")

SEVERITY_RANK = {s.value: s.rank for s in Severity}


class InboxQuery(BaseModel):
    """Filter, sort and page (all optional)."""

    model_config = ConfigDict(frozen=True)

    stage: str | None = None
    role: str | None = None
    min_severity: Severity | None = None
    overdue_only: bool = False
    search: str | None = Field(default=None, max_length=100)
    sort: SortKey = "due"
    descending: bool = False
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=MAX_PER_PAGE)


class InboxItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    task: int
    contract: str
    title: str
    counterparty: str
    amount: Decimal
    currency: str
    stage: str
    role: str
    assignee: str | None
    on_behalf_of: str | None
    due: dt.datetime | None
    overdue: bool
    days_left: int | None
    max_severity: str
    low_risk: bool
    escalated: bool


class InboxPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[InboxItem]
    total: int = Field(description="open tasks, counted up to COUNT_CAP + 1")
    overdue: int = Field(description="of which overdue, counted the same way")
    page: int
    per_page: int
    stages: list[str]

    @property
    def more(self) -> bool:
        """True when there are more than COUNT_CAP tasks (`total` is then a floor)."""
        return self.total > COUNT_CAP

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class _Scope(BaseModel):
    """Whose tasks: (user id, roles) for the user and each colleague who delegated today."""

    people: list[tuple[int, str, frozenset[str]]]


#: Built once (cache key and compiled form reused): every inbox view runs it.
_DELEGATORS = (
    select(m.User.id, m.User.username, m.UserRole.role)
    .join(m.Delegation, m.Delegation.from_user_id == m.User.id)
    .outerjoin(m.UserRole, m.UserRole.user_id == m.User.id)
    .where(
        m.Delegation.to_user_id == bindparam("who"),
        m.Delegation.starts_on <= bindparam("today"),
        m.Delegation.ends_on >= bindparam("today"),
        m.User.active.is_(True),
    )
)
_DEFINITION_IDS = select(m.WorkflowDefinition.id)


def _scope(session: Session, who: Principal, today: dt.date) -> _Scope:
    people: list[tuple[int, str, frozenset[str]]] = [(who.id, "", who.roles)]
    rows = session.execute(_DELEGATORS, {"who": who.id, "today": today}).all()
    by_user: dict[int, tuple[str, set[str]]] = {}
    for uid, name, role in rows:
        entry = by_user.setdefault(uid, (name, set()))
        if role:
            entry[1].add(role)
    people.extend((uid, name, frozenset(roles)) for uid, (name, roles) in by_user.items())
    return _Scope(people=people)


def delegator_names_and_roles(
    session: Session, who: Principal, today: dt.date
) -> list[tuple[str, frozenset[str]]]:
    """(username, roles) of each colleague whose tasks `who` may act on today."""
    return [(name, roles) for _, name, roles in _scope(session, who, today).people[1:]]


def _mine(scope: _Scope) -> ColumnElement[bool]:
    """Open tasks that belong to anyone in scope (see the module docstring)."""
    roles = sorted({r for _, _, rs in scope.people for r in rs})
    ids = [uid for uid, _, _ in scope.people]
    clauses: list[ColumnElement[bool]] = [m.Task.assignee_id.in_(ids)]
    if roles:
        clauses.append(and_(m.Task.assignee_id.is_(None), m.Task.role.in_(roles)))
    return and_(m.Task.status == "open", or_(*clauses))


def _severity_rank() -> ColumnElement[int]:
    return case(SEVERITY_RANK, value=m.Contract.max_severity, else_=0)


def inbox(rt: Runtime, who: Principal, query: InboxQuery | None = None) -> InboxPage:
    q = query or InboxQuery()
    now = rt.clock()
    today = now.date()
    with rt.db.reads() as session:
        scope = _scope(session, who, today)
        task_where: list[ColumnElement[bool]] = [not_approved_by([who.id])]
        if q.stage:
            task_where.append(m.Task.stage == q.stage)
        if q.role:
            task_where.append(m.Task.role == q.role)
        contract_where: list[ColumnElement[bool]] = []
        if q.min_severity is not None and q.min_severity is not Severity.NONE:
            allowed = [s.value for s in Severity if s.rank >= q.min_severity.rank]
            contract_where.append(m.Contract.max_severity.in_(allowed))
        if q.search:
            # `%` and `_` in what someone typed are the characters, not wildcards.
            typed = q.search.strip().lower()
            escaped = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            contract_where.append(
                or_(
                    func.lower(m.Contract.code).like(pattern, escape="\\"),
                    func.lower(m.Contract.title).like(pattern, escape="\\"),
                    func.lower(m.Contract.counterparty_name).like(pattern, escape="\\"),
                )
            )
        overdue_clause = and_(m.Task.due_at.is_not(None), m.Task.due_at < now)

        if q.overdue_only:
            task_where.append(overdue_clause)
        columns = _row_columns()
        by_due = q.sort == "due" and not q.descending
        rows: list[Any] = []
        total = overdue = -1
        if by_due and q.page * q.per_page <= COUNT_CAP + 1:
            # The default view: the counts and the page come from one walk of the index.
            rows, total, overdue = _counted_page(
                session, scope, task_where, contract_where, q, now, columns
            )
        if total < 0:  # another order, a page past the cap, or a page past the end
            total, overdue = _capped_counts(session, scope, task_where, contract_where, now)
        if by_due and not rows and q.page * q.per_page > COUNT_CAP + 1:
            ids = _page_by_due(session, scope, task_where, contract_where, q)
            found = session.execute(
                select(*columns)
                .join(m.Contract, m.Contract.id == m.Task.contract_id)
                .outerjoin(m.User, m.User.id == m.Task.assignee_id)
                .where(m.Task.id.in_(ids))
            ).all()
            position = {task_id: i for i, task_id in enumerate(ids)}
            rows = sorted(found, key=lambda r: position[r.id])
        elif not by_due:
            rows = list(
                session.execute(
                    select(*columns)
                    .join(m.Contract, m.Contract.id == m.Task.contract_id)
                    .outerjoin(m.User, m.User.id == m.Task.assignee_id)
                    .where(_mine(scope), *task_where, *contract_where)
                    .order_by(*_order(q))
                    .limit(q.per_page)
                    .offset((q.page - 1) * q.per_page)
                ).all()
            )
        stages = _stages(session, scope)

    items = []
    for row in rows:
        items.append(
            InboxItem(
                task=row.id,
                contract=row.code,
                title=row.title,
                counterparty=row.counterparty_name,
                amount=row.amount,
                currency=row.currency,
                stage=row.stage,
                role=row.role,
                assignee=row.assignee,
                on_behalf_of=_on_behalf_of(scope, who, row.role, row.assignee_id),
                due=row.due_at,
                overdue=row.due_at is not None and row.due_at < now,
                days_left=(row.due_at.date() - today).days if row.due_at is not None else None,
                max_severity=row.max_severity,
                low_risk=row.max_severity in LOW_RISK,
                escalated=row.escalated_at is not None,
            )
        )
    return InboxPage(
        items=items, total=total, overdue=overdue, page=q.page, per_page=q.per_page, stages=stages
    )


def _branches(
    scope: _Scope,
    task_where: list[ColumnElement[bool]],
    contract_where: list[ColumnElement[bool]],
    limit: int,
) -> list[Any]:
    """The user's open tasks as one query per role (unassigned tasks of that role) plus one
    for tasks assigned to the people in scope, each in due-date order and cut at `limit`.

    Each branch walks one index (open tasks by role and due date; tasks by assignee) and
    stops after `limit` rows, where a single `role IN (...) OR assignee ...` query would
    collect every matching row first. Their union is the inbox."""
    roles = sorted({r for _, _, rs in scope.people for r in rs})
    ids = [uid for uid, _, _ in scope.people]
    due = m.Task.due_at.asc().nulls_last()

    def branch(*who: ColumnElement[bool]) -> Any:
        query = select(m.Task.id, m.Task.due_at).where(m.Task.status == "open", *who, *task_where)
        if contract_where:  # join only when a filter needs the contract
            query = query.join(m.Contract, m.Contract.id == m.Task.contract_id).where(
                *contract_where
            )
        return query.order_by(due, m.Task.id).limit(limit).subquery().select()

    branches = [branch(m.Task.role == role, m.Task.assignee_id.is_(None)) for role in roles]
    branches.append(branch(m.Task.assignee_id.in_(ids)))
    return branches


def _row_columns() -> list[Any]:
    """What an inbox line shows, from the task, its contract and its assignee."""
    return [
        m.Task.id,
        m.Task.stage,
        m.Task.role,
        m.Task.due_at,
        m.Task.assignee_id,
        m.Task.escalated_at,
        m.User.username.label("assignee"),
        m.Contract.code,
        m.Contract.title,
        m.Contract.counterparty_name,
        m.Contract.amount,
        m.Contract.currency,
        m.Contract.max_severity,
    ]


def _counted_page(
    session: Session,
    scope: _Scope,
    task_where: list[ColumnElement[bool]],
    contract_where: list[ColumnElement[bool]],
    q: InboxQuery,
    now: dt.datetime,
    columns: list[Any],
) -> tuple[list[Any], int, int]:
    """The default page (due date, overdue first) with its counts, in one statement.

    The index-ordered branches are read up to COUNT_CAP + 1 tasks each (as
    `_capped_counts` reads them); window sums over them give the counts, the first
    `per_page` after the offset are the page, and only those are joined to their contract
    and assignee. Returns (rows, total, overdue); total is -1 when the page is empty (past
    the end), where the counts must be read on their own."""
    merged = union_all(*_branches(scope, task_where, contract_where, COUNT_CAP + 1)).subquery()
    late = case((and_(merged.c.due_at.is_not(None), merged.c.due_at < now), 1), else_=0)
    counted = select(
        merged.c.id,
        merged.c.due_at,
        func.count().over().label("total_"),
        func.sum(late).over().label("overdue_"),
    ).subquery()
    due = counted.c.due_at.asc().nulls_last()
    page = (
        select(counted)
        .order_by(due, counted.c.id)
        .limit(q.per_page)
        .offset((q.page - 1) * q.per_page)
        .subquery()
    )
    found = session.execute(
        select(*columns, page.c.total_, page.c.overdue_)
        .select_from(page)
        .join(m.Task, m.Task.id == page.c.id)
        .join(m.Contract, m.Contract.id == m.Task.contract_id)
        .outerjoin(m.User, m.User.id == m.Task.assignee_id)
        .order_by(page.c.due_at.asc().nulls_last(), page.c.id)
    ).all()
    if not found:
        return [], -1, -1
    return list(found), int(found[0].total_), int(found[0].overdue_ or 0)


def _capped_counts(
    session: Session,
    scope: _Scope,
    task_where: list[ColumnElement[bool]],
    contract_where: list[ColumnElement[bool]],
    now: dt.datetime,
) -> tuple[int, int]:
    """How many tasks, and how many of them overdue, counting no further than
    COUNT_CAP + 1 per branch (an inbox says "1000+" rather than walk a hundred thousand
    rows to print an exact number).

    One walk gives both: each branch is read in due-date order, so its overdue tasks are
    the first ones read, and the overdue among its first COUNT_CAP + 1 tasks are exactly
    its overdue tasks counted up to the same cap."""
    merged = union_all(*_branches(scope, task_where, contract_where, COUNT_CAP + 1)).subquery()
    late = and_(merged.c.due_at.is_not(None), merged.c.due_at < now)
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(case((late, 1), else_=0)), 0)).select_from(
            merged
        )
    ).one()
    return int(row[0]), int(row[1])


def _page_by_due(
    session: Session,
    scope: _Scope,
    task_where: list[ColumnElement[bool]],
    contract_where: list[ColumnElement[bool]],
    q: InboxQuery,
) -> list[int]:
    """The default page (due date, overdue first): a merge of the index-ordered branches,
    so a page costs about the same with 100 or 100,000 open tasks."""
    need = q.page * q.per_page
    merged = union_all(*_branches(scope, task_where, contract_where, need)).subquery()
    page = (
        select(merged.c.id)
        .order_by(merged.c.due_at.asc().nulls_last(), merged.c.id)
        .limit(q.per_page)
        .offset((q.page - 1) * q.per_page)
    )
    return list(session.scalars(page))


def _order(q: InboxQuery) -> list[Any]:
    due = m.Task.due_at.desc().nulls_last() if q.descending else m.Task.due_at.asc().nulls_last()
    order: list[Any]
    if q.sort == "severity":
        rank = _severity_rank()
        order = [rank.asc() if q.descending else rank.desc(), m.Task.due_at.asc().nulls_last()]
    elif q.sort == "contract":
        order = [m.Contract.code.desc() if q.descending else m.Contract.code.asc()]
    elif q.sort == "amount":
        order = [m.Contract.amount_base.asc() if q.descending else m.Contract.amount_base.desc()]
    elif q.sort == "stage":
        order = [m.Task.stage.desc() if q.descending else m.Task.stage.asc(), due]
    elif q.sort == "created":
        order = [m.Task.created_at.asc() if q.descending else m.Task.created_at.desc()]
    else:  # due: overdue first (the most overdue on top); tasks without a due date last
        order = [due]
    order.append(m.Task.id)
    return order


_STAGE_ROLES: dict[int, dict[str, frozenset[str]]] = {}


def _stages(session: Session, scope: _Scope) -> list[str]:
    """Stages where the people in scope can have tasks, from the stored workflows (no scan
    of the tasks table: this feeds a filter menu). Stored versions never change, so their
    stage -> roles maps are kept per process."""
    from engine.services.workflows import spec_for

    roles = {r for _, _, rs in scope.people for r in rs}
    found: set[str] = set()
    for definition_id in session.scalars(_DEFINITION_IDS):
        stage_roles = _STAGE_ROLES.get(definition_id)
        if stage_roles is None:
            spec = spec_for(session, definition_id)
            stage_roles = {st.id: frozenset(t.role.value for t in st.tasks) for st in spec.stages}
            _STAGE_ROLES[definition_id] = stage_roles
        found.update(stage for stage, needs in stage_roles.items() if needs & roles)
    return sorted(found)


def _on_behalf_of(scope: _Scope, who: Principal, role: str, assignee_id: int | None) -> str | None:
    """The colleague whose task this is when it reaches `who` only through a delegation."""
    if assignee_id == who.id or (assignee_id is None and role in who.roles):
        return None
    for uid, name, roles in scope.people[1:]:
        if assignee_id == uid or (assignee_id is None and role in roles):
            return name
    return None


def hand_backs(rt: Runtime, who: Principal) -> list[Any]:
    """Contracts handed back to `who` to revise (shown above the inbox's tasks)."""
    from engine.services.hand_back import entries_for

    with rt.db.reads() as session:
        return entries_for(session, who.id)


class BulkRefusal(BaseModel):
    model_config = ConfigDict(frozen=True)

    task: int
    error: str


class BulkOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    approved: list[int]
    refused: list[BulkRefusal]


def bulk_approve(
    rt: Runtime, who: Principal, task_ids: list[int], comment: str | None = None
) -> BulkOutcome:
    """Approve several low-risk tasks, each in its own transaction.

    Only tasks whose contract's highest flag is `low` or none qualify; each approval goes
    through the same checks as a single one (visibility, role, assignment, no
    self-approval), and one refusal does not undo the others. A task on a contract `who`
    may not see is refused with the words a single act uses, without its risk or roles.
    """
    from engine.errors import ContractflowError
    from engine.services.lifecycle import act

    ids = list(dict.fromkeys(task_ids))[:MAX_PER_PAGE]
    with rt.db.reads() as session:
        contract_of = dict(
            session.execute(select(m.Task.id, m.Task.contract_id).where(m.Task.id.in_(ids))).all()
        )
        # Only contracts `who` may see say anything about themselves (their risk here,
        # the roles in `act`'s refusals): the others are refused as a single act is.
        visible = dict(
            session.execute(
                select(m.Contract.id, m.Contract.max_severity).where(
                    m.Contract.id.in_(set(contract_of.values())),
                    access.visible_contracts(session, who, rt.today()),
                )
            ).all()
        )
    existing = set(contract_of)
    severities = {t: visible[c] for t, c in contract_of.items() if c in visible}
    approved: list[int] = []
    refused: list[BulkRefusal] = []
    for task_id in ids:
        severity = severities.get(task_id)
        if task_id not in existing:
            refused.append(BulkRefusal(task=task_id, error=f"task {task_id} does not exist"))
            continue
        if severity is None:
            refused.append(
                BulkRefusal(task=task_id, error=f"{who.username} may not act on task {task_id}")
            )
            continue
        if severity not in LOW_RISK:
            refused.append(
                BulkRefusal(
                    task=task_id,
                    error=f"its contract has {severity} risk; open it and decide on its own",
                )
            )
            continue
        try:
            act(rt, task_id, "approve", who.username, comment)
        except ContractflowError as exc:
            refused.append(BulkRefusal(task=task_id, error=" ".join(exc.lines())))
        else:
            approved.append(task_id)
    return BulkOutcome(approved=approved, refused=refused)
