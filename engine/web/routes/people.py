"""Out of office and reassignment in the browser (issue 13; the CLI's `delegate` and
`reassign`): the same use cases, which also email the people who may now act."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from engine.errors import ContractflowError, InvalidInput
from engine.services import lifecycle
from engine.services.portfolio import task_contract_code
from engine.web.deps import CsrfForm, PageUser, RuntimeDep
from engine.web.routes.contracts import contract_url
from engine.web.templating import flash, render

router = APIRouter(include_in_schema=False)


def _day(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field}: {value!r} is not a date (YYYY-MM-DD)") from None


@router.get("/away")
def away_page(request: Request, rt: RuntimeDep, user: PageUser) -> Response:
    mine = lifecycle.list_delegations(rt, user.username)
    return render(request, "away.html", {"delegations": mine, "today": rt.today()})


@router.post("/away", dependencies=[CsrfForm])
def set_away(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    to_user: Annotated[str, Form(max_length=64)],
    starts_on: Annotated[str, Form(max_length=10)],
    ends_on: Annotated[str, Form(max_length=10)],
) -> Response:
    try:
        starts, ends = _day(starts_on, "from"), _day(ends_on, "until")
        view = lifecycle.delegate(rt, user.username, to_user.strip(), starts, ends)
    except ContractflowError as exc:
        mine = lifecycle.list_delegations(rt, user.username)
        return render(
            request,
            "away.html",
            {"delegations": mine, "today": rt.today(), "problems": exc.lines()},
            status_code=exc.http_status,
        )
    flash(
        request,
        f"{view.to_user} acts on your tasks from {view.starts_on} to {view.ends_on}; "
        "they have been emailed about the open ones.",
    )
    return RedirectResponse("/away", status_code=303)


@router.post("/tasks/{task_id}/reassign", dependencies=[CsrfForm])
def reassign_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    task_id: int,
    to_user: Annotated[str, Form(max_length=64)],
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    code = task_contract_code(rt, user, task_id)
    try:
        lifecycle.reassign(rt, task_id, to_user.strip(), user.username, comment or None)
    except ContractflowError as exc:
        flash(request, "Not done: " + " ".join(exc.lines()))
        return RedirectResponse(contract_url(code), status_code=303)
    flash(request, f"Task {task_id} is now {to_user.strip()}'s; they have been emailed.")
    return RedirectResponse(contract_url(code), status_code=303)
