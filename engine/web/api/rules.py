"""`rules check` over HTTP: evaluate a contract with the rules in force, store nothing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from engine.domain.risk import Severity
from engine.errors import InvalidInput
from engine.services.checks import check_contract, parse_param_values
from engine.services.runtime import Runtime
from engine.services.uploads import read_data, read_upload
from engine.web.deps import ApiUser, RuntimeDep

router = APIRouter(tags=["rules"])

FailOn = Annotated[
    Severity | None,
    Query(description="also answer `tripped`: did a flag reach this severity?"),
]


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract: dict[str, Any] = Field(description="a contract as in the contract file format")
    as_of: dt.date | None = Field(default=None, description="evaluation date (default today)")
    params: dict[str, float | int | str] = Field(
        default_factory=dict, description="threshold overrides, e.g. {'net_days_medium': 60}"
    )


@router.post("/rules/check")
def check(
    rt: RuntimeDep, user: ApiUser, body: CheckRequest, fail_on: FailOn = None
) -> dict[str, Any]:
    """Flags for one contract: `{"contract", "as_of", "max_severity", "flags"}`."""
    contract = read_data(rt, body.contract, "contract")
    params = parse_param_values(body.params)
    return check_contract(rt, contract, body.as_of, params, _fail_on(fail_on))


@router.post("/rules/check/upload")
async def check_upload(
    rt: RuntimeDep,
    user: ApiUser,
    file: Annotated[UploadFile, File(description="a .yaml, .yml, .json or .docx contract")],
    as_of: Annotated[dt.date | None, Form()] = None,
    fail_on: FailOn = None,
) -> dict[str, Any]:
    """The same for a contract file (size-limited, type-checked)."""
    content = await file.read(rt.settings.upload_max_bytes + 1)
    threshold = _fail_on(fail_on)
    # Parsing and evaluating block: a worker thread keeps the event loop free for others.
    return await run_in_threadpool(_check_file, rt, file.filename, content, as_of, threshold)


def _check_file(
    rt: Runtime,
    filename: str | None,
    content: bytes,
    as_of: dt.date | None,
    fail_on: Severity | None,
) -> dict[str, Any]:
    contract, _ = read_upload(rt, filename, content)
    return check_contract(rt, contract, as_of, None, fail_on)


def _fail_on(value: Severity | None) -> Severity | None:
    if value is Severity.NONE:
        raise InvalidInput("fail_on: use low, medium, high or critical")
    return value
