"""Contracts: list, show, submit (JSON or upload), revise, record obligations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, File, Form, Query, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from engine.domain.views import ContractView, HistoryEntry
from engine.errors import InvalidInput
from engine.services import access, lifecycle
from engine.services.auth import Principal
from engine.services.contract_list import (
    DEFAULT_SORT,
    ContractListRow,
    checked_filter,
    contract_list,
)
from engine.services.documents import DOCX_MEDIA_TYPE
from engine.services.runtime import Runtime
from engine.services.uploads import read_data, read_upload
from engine.services.views import show
from engine.web.api.pagination import Limit, Offset, page
from engine.web.api.params import ContractCode, Name, ObligationId
from engine.web.deps import ApiUser, RuntimeDep
from engine.web.downloads import download, download_report

router = APIRouter(tags=["contracts"])

ContractBody = Annotated[
    dict[str, Any],
    Body(
        description="A contract as in the contract file format (docs/contract-format.md)",
        examples=[
            {
                "title": "Supply of 40 centrifugal pumps",
                "direction": "sell",
                "counterparty": {"name": "Huadong Machinery Co., Ltd.", "credit_rating": "BBB"},
                "currency": "CNY",
                "amount": 2400000,
                "start_date": "2026-12-01",
                "end_date": "2027-11-30",
            }
        ],
    ),
]


class FulfilRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: dt.date | None = Field(default=None, description="when it was fulfilled (default today)")
    comment: str | None = Field(default=None, max_length=4000)
    force: bool = Field(
        default=False, description="accept a date before the contract's start (needs a comment)"
    )


class ReasonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=4000, description="why (kept in the audit trail)")


SortParam = Annotated[
    str,
    Query(
        pattern=r"^-?[a-z_]{1,32}$",
        description="id, title, counterparty, owner, stage, status, amount, max_severity, "
        "submitted_at or updated_at; -FIELD for descending",
    ),
]


@router.get("/contracts", response_model=list[ContractListRow])
def list_contracts(
    rt: RuntimeDep,
    user: ApiUser,
    response: Response,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(active|closed|withdrawn|terminated)$")
    ] = None,
    stage: Name = None,
    counterparty: Annotated[
        str | None, Query(max_length=200, description="counterparty name contains (any case)")
    ] = None,
    owner: Annotated[str | None, Query(max_length=64, description="owner's username")] = None,
    team: Annotated[str | None, Query(max_length=64, description="the owner's team")] = None,
    min_severity: Annotated[
        str | None,
        Query(pattern="^(none|low|medium|high|critical)$", description="highest flag at least"),
    ] = None,
    search: Annotated[
        str | None,
        Query(max_length=200, description="id, title or counterparty contains (any case)"),
    ] = None,
    sort: SortParam = DEFAULT_SORT,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[ContractListRow]:
    """Contracts you may see, filtered and sorted (most recently changed first by default),
    one page at a time (`X-Next-Offset` gives the next page's `offset` when there may be
    more). The same filters as `contractflow contracts list` and the contracts page."""
    f = checked_filter(
        rt,
        stage=stage,
        status=status_,
        counterparty=counterparty,
        owner=owner,
        team=team,
        min_severity=min_severity,
        search=search,
        sort=sort,
    )
    found = contract_list(rt, user, f, limit=limit + 1, offset=offset)
    return page(response, found, limit, offset)


@router.post("/contracts", response_model=ContractView, status_code=status.HTTP_201_CREATED)
def submit(
    rt: RuntimeDep, user: ApiUser, contract: ContractBody, response: Response, workflow: Name = None
) -> ContractView:
    """Store a draft and submit it into its workflow (as `contractflow submit`).

    A body whose `id` names a stored contract is a revision of it."""
    access.require_submit(user)
    draft = read_data(rt, contract)
    if draft.id is not None:
        with rt.db.sessions() as session:
            access.require_new_or_revisable(session, user, draft.id, rt.today())
    view = lifecycle.submit_contract(rt, draft, user.username, workflow=workflow, source="api")
    return _created(response, view)


def _created(response: Response, view: ContractView) -> ContractView:
    """201 with `Location`: where the new contract (or revision) is read."""
    response.headers["Location"] = f"/api/contracts/{quote(view.id, safe='/')}"
    return view


@router.post("/contracts/upload", response_model=ContractView, status_code=status.HTTP_201_CREATED)
async def submit_upload(
    rt: RuntimeDep,
    user: ApiUser,
    file: Annotated[UploadFile, File(description="a .yaml, .yml, .json or .docx contract")],
    response: Response,
    workflow: Annotated[str | None, Form(pattern=r"^[a-z_]{1,64}$")] = None,
) -> ContractView:
    """Submit a contract file (size-limited, type-checked)."""
    access.require_submit(user)
    content = await file.read(rt.settings.upload_max_bytes + 1)
    # Parsing (YAML, .docx) and the database work are blocking: run them in a worker
    # thread so a large upload never stalls the event loop, and with it everyone else.
    view = await run_in_threadpool(_submit_file, rt, user, file.filename, content, workflow)
    return _created(response, view)


def _submit_file(
    rt: Runtime, user: Principal, filename: str | None, content: bytes, workflow: str | None
) -> ContractView:
    draft, source = read_upload(rt, filename, content)
    if draft.id is not None:
        with rt.db.sessions() as session:
            access.require_new_or_revisable(session, user, draft.id, rt.today())
    return lifecycle.submit_contract(rt, draft, user.username, workflow=workflow, source=source)


# Routes with a suffix come first: a contract id may contain '/' ({code:path}).


@router.get(
    "/contracts/{code:path}/document",
    response_class=Response,
    responses={200: {"content": {DOCX_MEDIA_TYPE: {}}, "description": "the .docx"}},
)
def get_document(
    rt: RuntimeDep,
    user: ApiUser,
    code: ContractCode,
    revision: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    """The contract document (.docx) of a revision (default: the current one)."""
    return download(rt, user, code, revision)


@router.get(
    "/contracts/{code:path}/report",
    response_class=Response,
    responses={200: {"content": {DOCX_MEDIA_TYPE: {}}, "description": "the .docx"}},
)
def get_report(rt: RuntimeDep, user: ApiUser, code: ContractCode) -> Response:
    """The evaluation report (.docx): the one kept when the contract entered evaluation."""
    return download_report(rt, user, code)


class AmendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=4000, description="why the terms change")
    terms: dict[str, Any] = Field(
        description="the amended contract, all its terms (docs/contract-format.md)"
    )


class RenewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: dict[str, Any] | None = Field(
        default=None, description="the successor's terms (default: the same, next period)"
    )


class TerminateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=4000)
    on: dt.date | None = Field(default=None, description="effective date (default today)")


@router.post(
    "/contracts/{code:path}/amendments",
    response_model=ContractView,
    status_code=status.HTTP_201_CREATED,
)
def amend(rt: RuntimeDep, user: ApiUser, code: ContractCode, body: AmendRequest) -> ContractView:
    """Open an amendment of a signed contract (as `contractflow amend`)."""
    with rt.db.sessions() as session:
        access.contract_row(session, user, code, rt.today())
    amended = read_data(rt, body.terms)
    return lifecycle.amend_contract(rt, code, amended, body.reason, user.username, "api")


@router.post(
    "/contracts/{code:path}/renew", response_model=ContractView, status_code=status.HTTP_201_CREATED
)
def renew(
    rt: RuntimeDep, user: ApiUser, code: ContractCode, body: RenewRequest | None = None
) -> ContractView:
    """Submit the successor of a signed contract (as `contractflow renew`); returns it."""
    with rt.db.sessions() as session:
        access.contract_row(session, user, code, rt.today())
    if body is not None and body.terms is not None:
        successor = read_data(rt, body.terms)
        if successor.id is not None:
            raise InvalidInput("terms.id: a renewal is a new contract; leave the id out")
        access.require_submit(user)
        return lifecycle.submit_contract(
            rt, successor, user.username, source="api", renews=_checked_renewal(rt, user, code)
        )
    return lifecycle.renew(rt, code, user.username)


def _checked_renewal(rt: RuntimeDep, user: ApiUser, code: str) -> str:
    from engine.services.renewals import check_renewable
    from engine.services.unit_of_work import get_user
    from engine.services.views import get_contract_row

    with rt.db.reads() as session:
        check_renewable(session, get_user(session, user.username), get_contract_row(session, code))
    return code


@router.post("/contracts/{code:path}/terminate", response_model=ContractView)
def terminate(
    rt: RuntimeDep, user: ApiUser, code: ContractCode, body: TerminateRequest
) -> ContractView:
    """Terminate an active contract (contract_manager or admin; as `contractflow terminate`)."""
    with rt.db.sessions() as session:
        access.contract_row(session, user, code, rt.today())
    return lifecycle.terminate(rt, code, body.reason, user.username, on=body.on)


@router.post("/contracts/{code:path}/obligations/{obligation}/fulfil", response_model=ContractView)
def fulfil(
    rt: RuntimeDep,
    user: ApiUser,
    code: ContractCode,
    obligation: ObligationId,
    body: FulfilRequest | None = None,
) -> ContractView:
    """Record that an obligation was fulfilled."""
    with rt.db.sessions() as session:
        access.require_fulfil(user, access.contract_row(session, user, code, rt.today()))
    request = body or FulfilRequest()
    return lifecycle.fulfil_obligation(
        rt,
        code,
        obligation,
        user.username,
        on=request.on,
        comment=request.comment,
        force=request.force,
    )


@router.post("/contracts/{code:path}/obligations/{obligation}/revert", response_model=ContractView)
def revert(
    rt: RuntimeDep,
    user: ApiUser,
    code: ContractCode,
    obligation: ObligationId,
    body: ReasonRequest,
) -> ContractView:
    """Undo a fulfilment or waiver recorded by mistake (the obligation is open again)."""
    with rt.db.sessions() as session:
        access.require_fulfil(user, access.contract_row(session, user, code, rt.today()))
    return lifecycle.revert_obligation(rt, code, obligation, user.username, body.reason)


class WaiveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(
        min_length=1, max_length=4000, description="why it is not required (kept in the history)"
    )


@router.post("/contracts/{code:path}/obligations/{obligation}/waive", response_model=ContractView)
def waive(
    rt: RuntimeDep,
    user: ApiUser,
    code: ContractCode,
    obligation: ObligationId,
    body: WaiveRequest,
) -> ContractView:
    """Record that an obligation is no longer required (as `contractflow obligations waive`)."""
    with rt.db.sessions() as session:
        access.require_fulfil(user, access.contract_row(session, user, code, rt.today()))
    return lifecycle.waive_obligation(rt, code, obligation, user.username, comment=body.comment)


@router.get("/contracts/{code:path}/history", response_model=list[HistoryEntry])
def get_history(
    rt: RuntimeDep,
    user: ApiUser,
    code: ContractCode,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[HistoryEntry]:
    """A contract's audit history, oldest first (what `contractflow show` lists), one page at
    a time; to anyone who may see the contract."""
    with rt.db.sessions() as session:
        access.require_visible(session, user, code, rt.today())
    history = show(rt, code).history
    return page(response, history[offset : offset + limit + 1], limit, offset)


@router.post("/contracts/{code:path}/withdraw", response_model=ContractView)
def withdraw(
    rt: RuntimeDep, user: ApiUser, code: ContractCode, body: ReasonRequest
) -> ContractView:
    """Withdraw a contract that is not yet signed (owner, submitter or admin); 409 once
    signed."""
    with rt.db.sessions() as session:
        access.require_withdraw(user, access.contract_row(session, user, code, rt.today()))
    return lifecycle.withdraw(rt, code, user.username, body.reason)


@router.get("/contracts/{code:path}", response_model=ContractView)
def get_contract(rt: RuntimeDep, user: ApiUser, code: ContractCode) -> ContractView:
    """One contract: terms, flags, tasks, history, revisions (as `contractflow show`)."""
    with rt.db.sessions() as session:
        access.require_visible(session, user, code, rt.today())
    return show(rt, code)


@router.put("/contracts/{code:path}", response_model=ContractView)
def revise(
    rt: RuntimeDep, user: ApiUser, code: ContractCode, contract: ContractBody
) -> ContractView:
    """Submit a new revision of a contract waiting in its first stage."""
    _require_revisable(rt, user, code)
    draft = read_data(rt, contract)
    if draft.id is not None and draft.id != code:
        raise InvalidInput(f"id: {draft.id} is not the contract {code} being revised")
    return lifecycle.submit_contract(
        rt, draft.model_copy(update={"id": code}), user.username, source="api"
    )


def _require_revisable(rt: RuntimeDep, user: ApiUser, code: str) -> None:
    with rt.db.sessions() as session:
        access.require_revise(user, access.contract_row(session, user, code, rt.today()))
