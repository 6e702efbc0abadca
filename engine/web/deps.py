"""Dependencies the routes declare (after full-stack-fastapi-template's `deps.py`).

Routes stay thin: they name what they need (`RuntimeDep`, `ApiUser`, `PageUser`,
`CsrfForm`) and call one service. Authentication:

- the JSON API takes a bearer token (`contractflow tokens create --as USER`) or the
  signed session cookie of a signed-in browser; a cookie-authenticated request that
  changes something must carry the CSRF token in `X-CSRF-Token`;
- pages take the session cookie only and send a visitor who is not signed in to `/login`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.errors import Forbidden, Unauthenticated
from engine.services.auth import Principal, principal_for_token
from engine.services.runtime import Runtime
from engine.services.sessions import session_principal
from engine.services.throttle import record_token_failure
from engine.web.security import CSRF_FIELD, CSRF_HEADER, csrf_ok, session_id_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """A page was asked for without a session; the handler redirects to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


async def get_runtime(request: Request) -> Runtime:
    # async on purpose: FastAPI runs a plain `def` dependency in the thread pool, a thread
    # hop on every request for what is an attribute read.
    rt: Runtime = request.app.state.rt
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `contractflow tokens create --as USER`",
)


def session_user(request: Request, rt: Runtime) -> Principal | None:
    """The user of a live server-side session (one indexed lookup, with their roles)."""
    session_id = session_id_of(request)
    if session_id is None:
        return None
    with rt.db.reads() as session:
        return session_principal(session, session_id, rt.clock())


def api_user(
    request: Request,
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is not None:
        who = principal_for_token(rt, credentials.credentials)
        if who is None:
            # Counted per address; 429 instead of 401 while the address is throttled.
            record_token_failure(rt, request.client.host if request.client else None)
            raise Unauthenticated("the API token is unknown or revoked")
    else:
        found = session_user(request, rt)
        if found is None:
            raise Unauthenticated(
                "sign in, or send an API token as `Authorization: Bearer TOKEN` "
                "(create one with `contractflow tokens create --as USER`)"
            )
        who = found
        if request.method not in SAFE_METHODS and not csrf_ok(
            request, request.headers.get(CSRF_HEADER)
        ):
            raise Forbidden("a signed-in browser must send the page's CSRF token (X-CSRF-Token)")
    request.state.user = who
    return who


ApiUser = Annotated[Principal, Depends(api_user)]


def page_user(request: Request, rt: RuntimeDep) -> Principal:
    who = session_user(request, rt)
    if who is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    request.state.user = who
    return who


PageUser = Annotated[Principal, Depends(page_user)]


async def csrf_form(request: Request) -> None:
    """Every form post carries the session's CSRF token in a hidden field."""
    form = await request.form()
    presented = form.get(CSRF_FIELD)
    if not csrf_ok(request, presented if isinstance(presented, str) else None):
        raise Forbidden(
            "this form has expired or did not come from this site; reload the page and try again"
        )


CsrfForm = Depends(csrf_form)
