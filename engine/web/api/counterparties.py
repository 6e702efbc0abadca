"""The counterparty register over HTTP (SPEC 7): list, show, add, change.

Reads are for every signed-in user; changes for `risk_officer` and `admin` (checked by the
service), CSRF-protected for browser sessions like every API write (`deps.api_user`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from engine.services.counterparties import (
    UNSET,
    add_counterparty,
    list_counterparties,
    set_counterparty,
    show_counterparty,
)
from engine.web.api.pagination import Limit, Offset, page
from engine.web.deps import ApiUser, RuntimeDep

router = APIRouter(tags=["counterparties"])

Rating = Literal["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"]
Status = Literal["active", "watch", "blocked"]


class NewCounterparty(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=18, description="Unified Social Credit Code")
    rating: Rating | None = None
    credit_limit: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    status: Status | None = None
    reason: str | None = Field(default=None, max_length=2000)


class CounterpartyChange(BaseModel):
    """Fields left out stay as they are; `credit_limit: null` removes the limit."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    rating: Rating | None = None
    credit_limit: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    status: Status | None = None


class SetResult(BaseModel):
    counterparty: str
    rescored: int
    raised: list[str]


@router.get("/counterparties")
def list_(
    rt: RuntimeDep,
    user: ApiUser,
    response: Response,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The register by name, each with exposure against its limit, one page at a time
    (`X-Next-Offset`)."""
    found = list_counterparties(rt, user.username, search, limit + 1, offset)
    return page(response, found, limit, offset)


@router.get("/counterparties/{key}")
def show(rt: RuntimeDep, user: ApiUser, key: str) -> dict[str, Any]:
    """One counterparty by name or code, as `counterparties show --format json` prints it."""
    return show_counterparty(rt, key, user.username)


@router.post("/counterparties", status_code=201)
def add(rt: RuntimeDep, user: ApiUser, body: NewCounterparty) -> dict[str, Any]:
    """Add a counterparty (risk_officer or admin)."""
    return add_counterparty(
        rt,
        user.username,
        body.name,
        code=body.code,
        rating=body.rating,
        credit_limit=None if body.credit_limit is None else str(body.credit_limit),
        status=body.status,
        reason=body.reason,
    )


@router.patch("/counterparties/{key}", response_model=SetResult)
def change(rt: RuntimeDep, user: ApiUser, key: str, body: CounterpartyChange) -> dict[str, Any]:
    """Change rating, limit or status; re-scores and warns as `counterparties set` does."""
    given = body.model_fields_set
    limit: Any = UNSET
    if "credit_limit" in given:
        limit = "none" if body.credit_limit is None else str(body.credit_limit)
    result = set_counterparty(
        rt,
        user.username,
        key,
        reason=body.reason,
        rating=("none" if body.rating is None else body.rating) if "rating" in given else UNSET,
        credit_limit=limit,
        status=body.status if "status" in given else UNSET,
    )
    return result.as_dict()
