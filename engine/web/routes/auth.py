"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from engine.services.auth import authenticate
from engine.web.deps import CsrfForm, RuntimeDep
from engine.web.security import session_user_id, sign_in, sign_out
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
def login_form(request: Request, next: str | None = None) -> Response:
    if session_user_id(request) is not None:
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
    who = authenticate(rt, username, password) if username and password else None
    if who is None:
        return render(
            request,
            "login.html",
            {
                "next": safe_next(next),
                "error": "Wrong user name or password.",
                "username": username,
            },
            status_code=401,
        )
    sign_in(request, who)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfForm])
def logout(request: Request) -> Response:
    sign_out(request)
    return RedirectResponse("/login", status_code=303)
