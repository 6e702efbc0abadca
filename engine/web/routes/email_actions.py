"""One-click actions from a task email (SPEC section 9; engine.services.action_links).

`GET /email-actions/{token}` shows the contract summary, a comment box and one button; it
never acts (mail scanners and link previews open links). `POST` acts as the emailed user,
without a sign-in: the signed, single-use token is the credential, and the form also
carries the CSRF token of the (anonymous) session the GET started, so another site
cannot post it. Refusals are a page saying why, with 403 (forged, expired, no longer
yours) or 409 (used, task closed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from engine.errors import ContractflowError
from engine.services.action_links import LinkRefused, inspect, use
from engine.web.deps import CsrfForm, RuntimeDep
from engine.web.templating import render

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(max_length=600)]


def _refused(request: Request, status: int, reason: str) -> Response:
    return render(
        request,
        "email_action_refused.html",
        {"status": status, "reason": reason},
        status_code=status,
    )


@router.get("/email-actions/{token}")
def confirm_page(request: Request, rt: RuntimeDep, token: Token) -> Response:
    try:
        link = inspect(rt, token)
    except LinkRefused as exc:
        return _refused(request, exc.status, exc.reason)
    return render(request, "email_action.html", {"link": link, "problems": []})


@router.post("/email-actions/{token}", dependencies=[CsrfForm])
def act_from_email(
    request: Request,
    rt: RuntimeDep,
    token: Token,
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        code, stage = use(rt, token, comment.strip() or None)
    except LinkRefused as exc:
        return _refused(request, exc.status, exc.reason)
    except ContractflowError as exc:  # e.g. request changes without a comment
        try:
            link = inspect(rt, token)
        except LinkRefused as again:
            return _refused(request, again.status, again.reason)
        return render(
            request,
            "email_action.html",
            {"link": link, "problems": exc.lines(), "comment": comment},
            status_code=exc.http_status,
        )
    return render(request, "email_action_done.html", {"contract": code, "stage": stage})
