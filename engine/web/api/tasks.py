"""Tasks: my open tasks (or all), the paginated inbox, acting, bulk approval."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from engine.domain.risk import Severity
from engine.domain.views import ActOutcome, ContractView, TaskView
from engine.errors import NotFound
from engine.services import access, lifecycle
from engine.services.inbox import BulkOutcome, InboxPage, InboxQuery, SortKey, bulk_approve, inbox
from engine.services.portfolio import task_contract_code
from engine.services.views import TASKS_PAGE, TASKS_PAGE_MAX, list_tasks, show
from engine.web.api.params import Name, TaskId
from engine.web.deps import ApiUser, RuntimeDep

router = APIRouter(tags=["tasks"])


class ActRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "reject", "request_changes"]
    comment: str | None = Field(default=None, max_length=4000)
    on_behalf_of: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description="act for a colleague who delegated to you today",
    )


class BulkApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=4000)


@router.get("/tasks", response_model=list[TaskView])
def tasks(
    rt: RuntimeDep,
    user: ApiUser,
    response: Response,
    all_: Annotated[bool, Query(alias="all", description="every open task")] = False,
    limit: Annotated[
        int, Query(ge=1, le=TASKS_PAGE_MAX, description="tasks per page")
    ] = TASKS_PAGE,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="tasks to skip")] = 0,
) -> list[TaskView]:
    """Open tasks you may act on, overdue first (as `contractflow tasks`), one page at a time.

    When there may be more, the `X-Next-Offset` header gives the `offset` of the next page."""
    if all_:
        access.require_all_tasks(user)
    found = list_tasks(rt, user.username, all_tasks=all_, limit=limit + 1, offset=offset)
    if len(found) > limit:
        response.headers["X-Next-Offset"] = str(offset + limit)
    return found[:limit]


@router.get("/inbox", response_model=InboxPage)
def inbox_page(
    rt: RuntimeDep,
    user: ApiUser,
    stage: Name = None,
    role: Name = None,
    min_severity: Severity | None = None,
    overdue_only: bool = False,
    search: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")] = None,
    sort: SortKey = "due",
    descending: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InboxPage:
    """Your open tasks one page at a time, filtered and sorted (what the inbox page shows)."""
    query = InboxQuery(
        stage=stage,
        role=role,
        min_severity=min_severity,
        overdue_only=overdue_only,
        search=search,
        sort=sort,
        descending=descending,
        page=page,
        per_page=per_page,
    )
    return inbox(rt, user, query)


@router.post("/tasks/{task_id}/act", response_model=ActOutcome)
def act(rt: RuntimeDep, user: ApiUser, task_id: TaskId, body: ActRequest) -> ActOutcome:
    """Approve, reject or request changes (reject and request_changes need a comment).

    Answers what the action did (the contract, the task's new status, the stage before and
    after); `GET /api/contracts/{id}` shows the whole contract. The same checks as
    `contractflow act` run in the same transaction (role, assignment, delegation, no
    self-approval)."""
    task_contract_code(rt, user, task_id)
    return lifecycle.decide(
        rt, task_id, body.action, user.username, body.comment, on_behalf_of=body.on_behalf_of
    )


@router.post("/tasks/bulk-approve", response_model=BulkOutcome)
def bulk(rt: RuntimeDep, user: ApiUser, body: BulkApproveRequest) -> BulkOutcome:
    """Approve several low-risk tasks; each is checked and applied on its own."""
    return bulk_approve(rt, user, body.task_ids, body.comment)


class ReassignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="holds the task's role"
    )
    comment: str | None = Field(default=None, max_length=4000)


@router.get("/tasks/{task_id}", response_model=TaskView)
def get_task(rt: RuntimeDep, user: ApiUser, task_id: TaskId) -> TaskView:
    """One task (open or closed) on a contract you may see."""
    code = task_contract_code(rt, user, task_id)
    for task in show(rt, code).tasks:
        if task.id == task_id:
            return task
    raise NotFound(f"task {task_id} does not exist")  # pragma: no cover - the code came from it


@router.post("/tasks/{task_id}/reassign", response_model=ContractView)
def reassign(rt: RuntimeDep, user: ApiUser, task_id: TaskId, body: ReassignRequest) -> ContractView:
    """Give an open task to one person holding its role (admin or contract_manager; as
    `contractflow reassign`); they are emailed."""
    task_contract_code(rt, user, task_id)
    return lifecycle.reassign(rt, task_id, body.to_user, user.username, comment=body.comment)
