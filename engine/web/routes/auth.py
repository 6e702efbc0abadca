"""Sign-in and sign-out pages.

A sign-in attempt is first checked against the throttle (`engine.services.throttle`): a
throttled client gets 429 with `Retry-After` and its password is not even checked. A
failure is counted; a success starts a server-side session (`engine.services.sessions`)
whose id the cookie carries. Logout revokes that session, so the cookie is dead even if
someone kept a copy."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from engine.errors import TooManyAttempts
from engine.services import throttle
from engine.services.auth import authenticate
from engine.services.sessions import end_session, start_session
from engine.web.deps import CsrfForm, RuntimeDep, session_user
from engine.web.security import sign_in, sign_out
from engine.web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path on this site (no `//evil.example`): an open redirect helps phishers."""
    if not target:
        return "/inbox"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/inbox"
    return target


@router.get("/login")
def login_form(request: Request, rt: RuntimeDep, next: str | None = None) -> Response:
    if session_user(request, rt) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/login", dependencies=[CsrfForm])
def login(
    request: Request,
    rt: RuntimeDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/inbox",
) -> Response:
    address = request.client.host if request.client else None
    context = {"next": safe_next(next), "username": username}
    if username:
        try:
            throttle.check_sign_in(rt, username, address)
        except TooManyAttempts as exc:
            refused = render(request, "login.html", {**context, "error": str(exc)}, 429)
            refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
    who = authenticate(rt, username, password) if username and password else None
    if who is None:
        if username and password:
            throttle.record_failure(rt, username, address)
        return render(
            request, "login.html", {**context, "error": "Wrong user name or password."}, 401
        )
    throttle.record_success(rt, username, address)
    sign_in(request, start_session(rt, who))
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfForm])
def logout(request: Request, rt: RuntimeDep) -> Response:
    session_id = sign_out(request)
    if session_id is not None:
        end_session(rt, session_id)
    return RedirectResponse("/login", status_code=303)
