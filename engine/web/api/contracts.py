"""Contracts: list, show, submit (JSON or upload), revise, record obligations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Query, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from engine.domain.views import ContractSummary, ContractView
from engine.errors import InvalidInput
from engine.services import access, lifecycle
from engine.services.auth import Principal
from engine.services.documents import DOCX_MEDIA_TYPE
from engine.services.portfolio import visible_contract_list
from engine.services.runtime import Runtime
from engine.services.uploads import read_data, read_upload
from engine.services.views import show
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


@router.get("/contracts", response_model=list[ContractSummary])
def list_contracts(
    rt: RuntimeDep,
    user: ApiUser,
    status_: Annotated[str | None, Query(alias="status", pattern="^(active|closed)$")] = None,
    stage: Name = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[ContractSummary]:
    """Contracts you may see, most recently changed first."""
    return visible_contract_list(rt, user, status=status_, stage=stage, limit=limit, offset=offset)


@router.post("/contracts", response_model=ContractView, status_code=status.HTTP_201_CREATED)
def submit(
    rt: RuntimeDep, user: ApiUser, contract: ContractBody, workflow: Name = None
) -> ContractView:
    """Store a draft and submit it into its workflow (as `contractflow submit`).

    A body whose `id` names a stored contract is a revision of it."""
    access.require_submit(user)
    draft = read_data(rt, contract)
    if draft.id is not None:
        with rt.db.sessions() as session:
            access.require_new_or_revisable(session, user, draft.id, rt.today())
    return lifecycle.submit_contract(rt, draft, user.username, workflow=workflow, source="api")


@router.post("/contracts/upload", response_model=ContractView, status_code=status.HTTP_201_CREATED)
async def submit_upload(
    rt: RuntimeDep,
    user: ApiUser,
    file: Annotated[UploadFile, File(description="a .yaml, .yml, .json or .docx contract")],
    workflow: Annotated[str | None, Form(pattern=r"^[a-z_]{1,64}$")] = None,
) -> ContractView:
    """Submit a contract file (size-limited, type-checked)."""
    access.require_submit(user)
    content = await file.read(rt.settings.upload_max_bytes + 1)
    # Parsing (YAML, .docx) and the database work are blocking: run them in a worker
    # thread so a large upload never stalls the event loop, and with it everyone else.
    return await run_in_threadpool(_submit_file, rt, user, file.filename, content, workflow)


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
        rt, code, obligation, user.username, on=request.on, comment=request.comment
    )


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
