"""Out of office over the API: delegate your tasks for a while, list delegations (as
`contractflow delegate` and `contractflow delegations`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from engine.domain.views import DelegationView
from engine.errors import Forbidden
from engine.services import lifecycle
from engine.web.api.pagination import Limit, Offset, page
from engine.web.deps import ApiUser, RuntimeDep

router = APIRouter(tags=["delegations"])

USERNAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class DelegateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user: str = Field(pattern=USERNAME, description="a colleague sharing one of your roles")
    starts_on: dt.date = Field(description="first day (inclusive)")
    ends_on: dt.date = Field(description="last day (inclusive)")
    for_user: str | None = Field(
        default=None, pattern=USERNAME, description="delegate someone else's tasks (admin)"
    )


@router.post("/delegations", response_model=DelegationView, status_code=status.HTTP_201_CREATED)
def create_delegation(
    rt: RuntimeDep, user: ApiUser, body: DelegateRequest, response: Response
) -> DelegationView:
    """Let a colleague act on your tasks between two dates; they are emailed about the open
    ones. The `Location` is the list of your delegations."""
    view = lifecycle.delegate(
        rt, user.username, body.to_user, body.starts_on, body.ends_on, from_user=body.for_user
    )
    response.headers["Location"] = f"/api/delegations?user={view.from_user}"
    return view


@router.get("/delegations", response_model=list[DelegationView])
def list_delegations(
    rt: RuntimeDep,
    user: ApiUser,
    response: Response,
    user_: Annotated[
        str | None, Query(alias="user", pattern=USERNAME, description="given by or to USER")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DelegationView]:
    """Delegations, newest first: an admin sees all (or USER's), others only their own."""
    who = user_
    if not user.has("admin"):
        if who not in (None, user.username):
            raise Forbidden(f"{user.username} may list only their own delegations")
        who = user.username
    found = lifecycle.list_delegations(rt, who)
    return page(response, found[offset : offset + limit + 1], limit, offset)
