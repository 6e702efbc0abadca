"""The reviewer's start page: my open tasks, overdue first; bulk approval of low-risk ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from engine.domain.risk import Severity
from engine.errors import InvalidInput
from engine.services.inbox import InboxQuery, SortKey, bulk_approve, hand_backs, inbox
from engine.web.deps import CsrfForm, PageUser, RuntimeDep
from engine.web.messages import page_words
from engine.web.templating import flash, render

router = APIRouter(include_in_schema=False)

SORTS: list[tuple[str, str]] = [
    ("due", "due date (overdue first)"),
    ("severity", "risk (highest first)"),
    ("amount", "amount (largest first)"),
    ("contract", "contract id"),
    ("stage", "stage"),
    ("created", "newest"),
]


@router.get("/inbox")
def inbox_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    stage: Annotated[str, Query(max_length=64)] = "",
    severity: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: Annotated[str, Query(max_length=20)] = "due",
    overdue: Annotated[str, Query(max_length=5)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    try:
        query = InboxQuery(
            stage=stage or None,
            min_severity=Severity(severity) if severity else None,
            search=q or None,
            sort=sort if sort in dict(SORTS) else "due",
            overdue_only=bool(overdue),
            page=page,
        )
    except (ValueError, ValidationError) as exc:
        raise InvalidInput(f"filter: {exc}") from None
    result = inbox(rt, user, query)
    return render(
        request,
        "inbox.html",
        {
            "result": result,
            "hand_backs": hand_backs(rt, user) if query.page == 1 else [],
            "query": query,
            "sorts": SORTS,
            "severities": [s.value for s in Severity if s is not Severity.NONE],
            "filters": {
                "stage": stage,
                "severity": severity,
                "q": q,
                "sort": sort,
                "overdue": overdue,
            },
        },
    )


@router.post("/inbox/approve", dependencies=[CsrfForm])
def bulk_approve_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    task_ids: Annotated[list[int], Form(max_length=200)] = [],  # noqa: B006 - FastAPI default
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    if not task_ids:
        flash(request, "Select the tasks to approve first.", error=True)
        return RedirectResponse("/inbox", status_code=303)
    outcome = bulk_approve(rt, user, task_ids, comment or None)
    parts = [f"Approved {len(outcome.approved)} task(s)."]
    parts.extend(f"Task {r.task}: {page_words(r.error)}" for r in outcome.refused)
    flash(request, " ".join(parts), error=bool(outcome.refused))
    return RedirectResponse("/inbox", status_code=303)


_ = SortKey  # the query's sort keys are the keys of SORTS
