"""One pagination style for every list of the API: `limit` and `offset` query parameters,
and an `X-Next-Offset` header giving the next page's `offset` when there may be more (the
style `GET /api/tasks` set; a script loops until the header is absent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Query, Response

T = TypeVar("T")

NEXT_OFFSET = "X-Next-Offset"

Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]


def page(response: Response, found: Sequence[T], limit: int, offset: int) -> list[T]:
    """The first `limit` of `found` (fetched as `limit + 1` so one more tells there is a next
    page), setting `X-Next-Offset` when there is one."""
    if len(found) > limit:
        response.headers[NEXT_OFFSET] = str(offset + limit)
    return list(found[:limit])
