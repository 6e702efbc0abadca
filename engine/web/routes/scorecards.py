"""The scorecard page: ranked rows, two charts with their numbers, drill-down, downloads."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from engine.services.scorecards import (
    columns,
    csv_download,
    obligations_of,
    overdue_trend,
    scorecard,
    xlsx_download,
)
from engine.web.deps import PageUser, RuntimeDep
from engine.web.templating import render

router = APIRouter(include_in_schema=False)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/scorecard")
def scorecard_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    by: Literal["owner", "team"] = "owner",
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: dt.date | None = None,
) -> Response:
    card = scorecard(rt, user, by=by, start=from_, end=to)
    trend = overdue_trend(rt, user, card.period_from, card.period_to)
    query = f"by={by}&from={card.period_from}&to={card.period_to}"
    rate_rows = [
        ((r.owner if by == "owner" else r.team) or "—", r.on_time_rate, "rate")
        for r in card.rows
        if r.on_time_rate is not None
    ]
    return render(
        request,
        "scorecard.html",
        {
            "card": card,
            "by": by,
            "query": query,
            "columns": columns(by),
            "rate_rows": rate_rows,
            "trend_rows": [(t.month, t.overdue_amount, "overdue") for t in trend],
        },
    )


@router.get("/scorecard.{kind}")
def scorecard_download(
    rt: RuntimeDep,
    user: PageUser,
    kind: Literal["csv", "xlsx"],
    by: Literal["owner", "team"] = "owner",
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: dt.date | None = None,
) -> Response:
    card = scorecard(rt, user, by=by, start=from_, end=to)
    name = f"scorecard-{by}-{card.period_from}-{card.period_to}.{kind}"
    body, media = (
        (csv_download(card), "text/csv; charset=utf-8")
        if kind == "csv"
        else (xlsx_download(card), XLSX)
    )
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/scorecard/obligations")
def drill_down(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    key: Annotated[str, Query(max_length=64)],
    by: Literal["owner", "team"] = "owner",
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: dt.date | None = None,
) -> Response:
    card = scorecard(rt, user, by=by, start=from_, end=to)
    rows = obligations_of(rt, user, by=by, key=key, start=card.period_from, end=card.period_to)
    return render(
        request,
        "scorecard_obligations.html",
        {"card": card, "by": by, "key": key, "rows": rows},
    )
