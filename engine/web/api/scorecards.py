"""Fulfilment scorecards over HTTP: the rows `contractflow scorecard --format json` prints,
over the contracts the caller may see."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from engine.services.scorecards import printed_rows, scorecard
from engine.web.api.pagination import Limit, Offset, page
from engine.web.deps import ApiUser, RuntimeDep

router = APIRouter(tags=["scorecards"])


@router.get("/scorecard", operation_id="get_scorecard")
def get_scorecard(
    rt: RuntimeDep,
    user: ApiUser,
    response: Response,
    by: Literal["owner", "team"] = "owner",
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: dt.date | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Ranked rows (best on-time rate first), one page at a time (`X-Next-Offset`); the
    period (default: the 90 days up to today) is in `X-Period-From` / `X-Period-To`."""
    card = scorecard(rt, user, by=by, start=from_, end=to)
    response.headers["X-Period-From"] = card.period_from.isoformat()
    response.headers["X-Period-To"] = card.period_to.isoformat()
    return page(response, printed_rows(card)[offset : offset + limit + 1], limit, offset)
