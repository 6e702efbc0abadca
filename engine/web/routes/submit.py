"""Submit a draft or a revision by upload; problems are shown beside the form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from engine.domain.views import ContractView
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound, TooLarge
from engine.services import access, lifecycle
from engine.services.auth import Principal
from engine.services.runtime import Runtime
from engine.services.uploads import ACCEPTED, read_upload
from engine.services.workflows import list_workflows
from engine.web.deps import CsrfForm, PageUser, RuntimeDep
from engine.web.routes.contracts import contract_url
from engine.web.templating import flash, render

router = APIRouter(include_in_schema=False)


def _workflow_names(rt: Runtime) -> list[str]:
    return sorted({w.workflow for w in list_workflows(rt)})


# Parsing an upload (YAML, .docx) and submitting it block for as long as the file takes:
# the route handlers are async only to read the upload, and hand the rest to a worker
# thread (run_in_threadpool) so one large upload never stalls the event loop for others.


async def _read(upload: UploadFile, limit: int) -> bytes:
    """At most limit + 1 bytes: enough to tell a file is too large without reading it all."""
    return await upload.read(limit + 1)


def _submit_file(
    rt: Runtime, user: Principal, filename: str | None, content: bytes, workflow: str | None
) -> ContractView:
    """Parse and submit: blocking work, run in a worker thread (see `submit_upload`)."""
    contract, source = read_upload(rt, filename, content)
    if contract.id is not None:
        with rt.db.sessions() as session:
            access.require_new_or_revisable(session, user, contract.id, rt.today())
    return lifecycle.submit_contract(rt, contract, user.username, workflow=workflow, source=source)


def _revise_file(
    rt: Runtime, user: Principal, code: str, filename: str | None, content: bytes
) -> ContractView:
    contract, source = read_upload(rt, filename, content)
    if contract.id is not None and contract.id != code:
        raise InvalidInput(f"{source}: id: {contract.id} is not the contract {code}")
    return lifecycle.submit_contract(
        rt, contract.model_copy(update={"id": code}), user.username, source=source
    )


def _form(
    request: Request,
    rt: Runtime,
    user: Principal,
    problems: list[str],
    status: int = 200,
    code: str | None = None,
) -> Response:
    return render(
        request,
        "submit.html",
        {
            "problems": problems,
            "workflows": _workflow_names(rt),
            "accepted": ", ".join(ACCEPTED),
            "limit": rt.settings.upload_max_bytes,
            "code": code,
        },
        status_code=status,
    )


@router.get("/submit")
def submit_form(request: Request, rt: RuntimeDep, user: PageUser) -> Response:
    access.require_submit(user)
    return _form(request, rt, user, [])


@router.post("/submit", dependencies=[CsrfForm])
async def submit_upload(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    file: Annotated[UploadFile, File(description="a contract file")],
    workflow: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    access.require_submit(user)
    content = await _read(file, rt.settings.upload_max_bytes)
    try:
        view = await run_in_threadpool(
            _submit_file, rt, user, file.filename, content, workflow or None
        )
    except TooLarge as exc:
        return _form(request, rt, user, exc.lines(), status=413)
    except (InvalidInput, Conflict, Forbidden, NotFound) as exc:
        return _form(request, rt, user, exc.lines(), status=exc.http_status)
    flash(request, f"Submitted {view.id}: now in stage {view.stage}.")
    return RedirectResponse(contract_url(view.id), status_code=303)


@router.get("/contracts/{code:path}/revise")
def revise_form(request: Request, rt: RuntimeDep, user: PageUser, code: str) -> Response:
    with rt.db.sessions() as session:
        access.require_revise(user, access.contract_row(session, user, code, rt.today()))
    return _form(request, rt, user, [], code=code)


@router.post("/contracts/{code:path}/revise", dependencies=[CsrfForm])
async def revise_upload(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    code: str,
    file: Annotated[UploadFile, File(description="the revised contract file")],
) -> Response:
    with rt.db.sessions() as session:
        access.require_revise(user, access.contract_row(session, user, code, rt.today()))
    content = await _read(file, rt.settings.upload_max_bytes)
    try:
        view = await run_in_threadpool(_revise_file, rt, user, code, file.filename, content)
    except TooLarge as exc:
        return _form(request, rt, user, exc.lines(), status=413, code=code)
    except (InvalidInput, Conflict, Forbidden, NotFound) as exc:
        return _form(request, rt, user, exc.lines(), status=exc.http_status, code=code)
    flash(request, f"Revision {view.revision} of {view.id} submitted: now in stage {view.stage}.")
    return RedirectResponse(contract_url(view.id), status_code=303)
