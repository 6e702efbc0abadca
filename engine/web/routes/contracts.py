"""Contract pages: the list, one contract, acting on a task, recording (and reverting)
fulfilment, withdrawing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.services import access, lifecycle
from engine.services.contract_list import (
    DEFAULT_SORT,
    SEVERITIES,
    STATUSES,
    ContractListRow,
    ListFilter,
    checked_filter,
    contract_list,
    export_file,
)
from engine.services.contract_page import contract_page
from engine.services.counterparties import counterparty_of_contract
from engine.services.portfolio import task_contract_code
from engine.web.deps import CsrfForm, PageUser, RuntimeDep
from engine.web.downloads import download, download_report
from engine.web.templating import flash, flash_refusal, humanise, render

router = APIRouter(include_in_schema=False)

VERBS = {"approve": "Approved", "reject": "Rejected", "request_changes": "Requested changes on"}


def contract_url(code: str) -> str:
    return "/contracts/" + quote(code, safe="/")


PAGE_SIZE = 50

Text = Annotated[str, Query(max_length=200)]


def _page_filter(
    rt: RuntimeDep,
    status: str,
    stage: str,
    counterparty: str,
    owner: str,
    team: str,
    min_severity: str,
    search: str,
    sort: str,
) -> ListFilter:
    return checked_filter(
        rt,
        stage=stage,
        status=status,
        counterparty=counterparty,
        owner=owner,
        team=team,
        min_severity=min_severity,
        search=search,
        sort=sort,
    )


@router.get("/contracts")
def contracts_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    status: Annotated[str, Query(max_length=10)] = "active",
    stage: Annotated[str, Query(max_length=64)] = "",
    counterparty: Text = "",
    owner: Annotated[str, Query(max_length=64)] = "",
    team: Annotated[str, Query(max_length=64)] = "",
    min_severity: Annotated[str, Query(max_length=10)] = "",
    search: Text = "",
    sort: Annotated[str, Query(max_length=40)] = DEFAULT_SORT,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The contract list: filters, search, sortable columns, pages of 50, downloads."""
    form = {
        "status": status,
        "stage": stage,
        "counterparty": counterparty,
        "owner": owner,
        "team": team,
        "min_severity": min_severity,
        "search": search,
        "sort": sort,
    }
    problems: list[str] = []
    rows: list[ContractListRow] = []
    query_args: dict[str, str] = {}
    try:
        f = _page_filter(rt, **form)
    except InvalidInput as exc:
        problems = exc.lines()
    else:
        rows = contract_list(rt, user, f, limit=PAGE_SIZE + 1, offset=offset)
        query_args = f.query_args()  # the template adds status ("" is "any", not the default)
    more = len(rows) > PAGE_SIZE
    return render(
        request,
        "contracts.html",
        {
            "rows": rows[:PAGE_SIZE],
            "form": form,
            "problems": problems,
            "statuses": STATUSES,
            "severities": SEVERITIES,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "next_offset": offset + PAGE_SIZE if more else None,
            "prev_offset": max(offset - PAGE_SIZE, 0) if offset else None,
            "query": query_args,
            "sort": sort,
        },
    )


def _export(
    rt: RuntimeDep,
    user: PageUser,
    kind: str,
    form: dict[str, str],
) -> Response:
    f = _page_filter(rt, **form)
    file = export_file(rt, user, f, kind)
    return Response(
        file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f"attachment; filename={file.filename}",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/contracts.{kind}")
def contracts_download(
    rt: RuntimeDep,
    user: PageUser,
    kind: Literal["csv", "xlsx"],
    status: Annotated[str, Query(max_length=10)] = "active",
    stage: Annotated[str, Query(max_length=64)] = "",
    counterparty: Text = "",
    owner: Annotated[str, Query(max_length=64)] = "",
    team: Annotated[str, Query(max_length=64)] = "",
    min_severity: Annotated[str, Query(max_length=10)] = "",
    search: Text = "",
    sort: Annotated[str, Query(max_length=40)] = DEFAULT_SORT,
) -> Response:
    """The list as the page filters it, as CSV (UTF-8 with BOM, for Excel) or an Excel
    workbook (typed cells): one route, so both downloads take the same filters."""
    form = dict(
        status=status,
        stage=stage,
        counterparty=counterparty,
        owner=owner,
        team=team,
        min_severity=min_severity,
        search=search,
        sort=sort,
    )
    return _export(rt, user, kind, form)


@router.post("/tasks/{task_id}/act", dependencies=[CsrfForm])
def act_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    task_id: int,
    action: Annotated[str, Form(max_length=20)],
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    code = task_contract_code(rt, user, task_id)
    try:
        # `decide`, not `act`: the page redirects, so the contract view `act` builds would
        # be thrown away; the contract page reads it fresh.
        done = lifecycle.decide(rt, task_id, action, user.username, comment or None)
    except (Conflict, Forbidden, InvalidInput) as exc:
        flash_refusal(request, exc.lines())
        return RedirectResponse(contract_url(code), status_code=303)
    stage = humanise(done.stage)
    flash(request, f"{VERBS.get(action, action)} {done.contract}: now in stage {stage}.")
    return RedirectResponse(contract_url(code), status_code=303)


@router.post("/contracts/{code:path}/obligations/{oid}/fulfil", dependencies=[CsrfForm])
def fulfil_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    code: str,
    oid: str,
    on: Annotated[str, Form(max_length=10)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
    force: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    with rt.db.sessions() as session:
        row = access.contract_row(session, user, code, rt.today())
        access.require_fulfil(user, row)
    try:
        day = dt.date.fromisoformat(on) if on else None
    except ValueError:
        flash_refusal(request, f"the date {on!r} is not a date (YYYY-MM-DD)")
        return RedirectResponse(contract_url(code), status_code=303)
    try:
        lifecycle.fulfil_obligation(
            rt, code, oid, user.username, on=day, comment=comment or None, force=bool(force)
        )
    except (Conflict, Forbidden, InvalidInput, NotFound) as exc:
        flash_refusal(request, exc.lines())
    else:
        flash(request, f"Recorded {oid} as fulfilled{f' on {day.isoformat()}' if day else ''}.")
    return RedirectResponse(contract_url(code), status_code=303)


@router.post("/contracts/{code:path}/obligations/{oid}/revert", dependencies=[CsrfForm])
def revert_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    code: str,
    oid: str,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    with rt.db.sessions() as session:
        row = access.contract_row(session, user, code, rt.today())
        access.require_fulfil(user, row)
    try:
        lifecycle.revert_obligation(rt, code, oid, user.username, reason)
    except (Conflict, Forbidden, InvalidInput, NotFound) as exc:
        flash_refusal(request, exc.lines())
    else:
        flash(request, f"{oid} is open again.")
    return RedirectResponse(contract_url(code), status_code=303)


@router.post("/contracts/{code:path}/withdraw", dependencies=[CsrfForm])
def withdraw_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    code: str,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    with rt.db.sessions() as session:
        row = access.contract_row(session, user, code, rt.today())
        access.require_withdraw(user, row)
    try:
        lifecycle.withdraw(rt, code, user.username, reason)
    except (Conflict, Forbidden, InvalidInput) as exc:
        flash_refusal(request, exc.lines())
    else:
        flash(request, f"Withdrew {code}: its open tasks are cancelled.")
    return RedirectResponse(contract_url(code), status_code=303)


@router.post("/contracts/{code:path}/renew", dependencies=[CsrfForm])
def renew_page(request: Request, rt: RuntimeDep, user: PageUser, code: str) -> Response:
    with rt.db.sessions() as session:
        access.contract_row(session, user, code, rt.today())  # visible, or 404
    try:
        new = lifecycle.renew(rt, code, user.username)
    except (Conflict, Forbidden, InvalidInput) as exc:
        flash(request, "Not done: " + " ".join(exc.lines()))
        return RedirectResponse(contract_url(code), status_code=303)
    flash(request, f"Renewed {code}: {new.id} submitted, now in stage {new.stage}.")
    return RedirectResponse(contract_url(new.id), status_code=303)


@router.post("/contracts/{code:path}/terminate", dependencies=[CsrfForm])
def terminate_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    code: str,
    reason: Annotated[str, Form(max_length=4000)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    with rt.db.sessions() as session:
        access.contract_row(session, user, code, rt.today())  # visible, or 404
    try:
        day = dt.date.fromisoformat(on) if on else None
    except ValueError:
        raise InvalidInput(f"on: {on!r} is not a date (YYYY-MM-DD)") from None
    try:
        lifecycle.terminate(rt, code, reason, user.username, on=day)
    except (Conflict, Forbidden, InvalidInput) as exc:
        flash(request, "Not done: " + " ".join(exc.lines()))
    else:
        flash(request, f"Terminated {code}.")
    return RedirectResponse(contract_url(code), status_code=303)


@router.get("/contracts/{code:path}/document")
def document_download(
    rt: RuntimeDep,
    user: PageUser,
    code: str,
    revision: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    return download(rt, user, code, revision)


@router.get("/contracts/{code:path}/report")
def report_download(rt: RuntimeDep, user: PageUser, code: str) -> Response:
    return download_report(rt, user, code)


@router.get("/contracts/{code:path}")
def contract_detail(request: Request, rt: RuntimeDep, user: PageUser, code: str) -> Response:
    page = contract_page(rt, user, code)
    pt = page.contract.terms.get("payment_terms") or {}
    return render(
        request,
        "contract.html",
        {
            "c": page.contract,
            "t_": _Terms(page.contract.terms),
            "pt": _Terms(
                {
                    "prepayment_percent": pt.get("prepayment_percent", 0),
                    "net_days": pt.get("net_days", 30),
                    "late_penalty_percent_per_day": pt.get("late_penalty_percent_per_day"),
                }
            ),
            "stages": page.stages,
            "party": counterparty_of_contract(rt, page.contract.id),
            "my_tasks": page.my_tasks,
            "open_tasks": page.open_tasks,
            "may_revise": page.may_revise,
            "may_fulfil": page.may_fulfil,
            "may_amend": page.may_amend,
            "may_renew": page.may_renew,
            "may_terminate": page.may_terminate,
            "may_withdraw": page.may_withdraw,
            "today": page.today,
            "days_to": page.days_to,
            "installments": page.installments,
            "base_currency": page.base_currency,
            "documents": [
                {
                    "url": f"{contract_url(page.contract.id)}/document?revision={r.number}",
                    "label": f"Revision {r.number} (.docx)",
                }
                for r in page.contract.revisions
            ]
            + (
                [
                    {
                        "url": f"{contract_url(page.contract.id)}/report",
                        "label": "Evaluation report (.docx)",
                    }
                ]
                if page.contract.stage in ("evaluation", "closed")
                else []
            ),
        },
    )


class _Terms(dict[str, object]):
    """Terms as a template reads them: missing keys are None (optional terms)."""

    def __getattr__(self, name: str) -> object:
        value = self.get(name)
        return _Terms(value) if isinstance(value, dict) else value
