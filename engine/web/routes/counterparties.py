"""Counterparty pages: the register with search, one counterparty (terms, exposure against
the limit as a bar, contracts, history) and, for risk officers, the change form."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from engine.errors import Conflict, Forbidden, InvalidInput
from engine.services.counterparties import (
    EDITOR_ROLES,
    UNSET,
    list_counterparties,
    set_counterparty,
    show_counterparty,
)
from engine.web.deps import CsrfForm, PageUser, RuntimeDep
from engine.web.templating import flash, render

router = APIRouter(include_in_schema=False)


def counterparty_url(key: str) -> str:
    return "/counterparties/" + quote(key, safe="")


@router.get("/counterparties")
def register_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    rows = list_counterparties(rt, user.username, q or None, limit=200)
    return render(request, "counterparties.html", {"rows": rows, "q": q})


@router.get("/counterparties/{key}")
def counterparty_page(request: Request, rt: RuntimeDep, user: PageUser, key: str) -> Response:
    data = show_counterparty(rt, key, user.username)
    limit, exposure = data["credit_limit"], data["exposure"]
    used = None if not limit else min(100, round(float(exposure) * 100 / float(limit)))
    return render(
        request,
        "counterparty.html",
        {
            "p": data,
            "key": data["code"] or data["name"],
            "used_percent": used,
            "over": limit is not None and exposure > limit,
            "can_edit": bool(EDITOR_ROLES & set(user.roles)),
        },
    )


@router.post("/counterparties/{key}", dependencies=[CsrfForm])
def change_counterparty(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    key: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    rating: Annotated[str, Form(max_length=4)] = "",
    credit_limit: Annotated[str, Form(max_length=40)] = "",
    status: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Empty fields stay as they are; a limit of `none` removes it."""
    try:
        result = set_counterparty(
            rt,
            user.username,
            key,
            reason=reason,
            rating=rating or UNSET,
            credit_limit=credit_limit or UNSET,
            status=status or UNSET,
        )
    except (Conflict, Forbidden, InvalidInput) as exc:
        flash(request, "Not changed: " + " ".join(exc.lines()))
        return RedirectResponse(counterparty_url(key), status_code=303)
    flash(
        request,
        f"Saved. Re-scored {result.rescored} active contract(s); risk rose on "
        f"{len(result.raised)}{': ' + ', '.join(result.raised) if result.raised else ''}.",
    )
    return RedirectResponse(counterparty_url(key), status_code=303)
