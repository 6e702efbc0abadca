"""Session cookie contents and CSRF tokens.

The session cookie is Starlette's signed cookie (itsdangerous, keyed by
`settings.secret_key`): HttpOnly, SameSite=Lax, and Secure whenever the app is served over
https (`CONTRACTFLOW_BASE_URL` starting with https). It holds the user id and a CSRF token;
every form carries that token back and every unsafe request made with the cookie must
present it (a form field, or the `X-CSRF-Token` header for scripts in the page).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request

from engine.services.auth import Principal

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def _session(request: Request) -> dict[str, Any]:
    return request.session


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (also for visitors not signed in)."""
    session = _session(request)
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def csrf_ok(request: Request, presented: str | None) -> bool:
    expected = _session(request).get("csrf")
    if not isinstance(expected, str) or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def sign_in(request: Request, who: Principal) -> None:
    """Start a fresh session for `who` (a new CSRF token too: no session fixation)."""
    session = _session(request)
    session.clear()
    session["uid"] = who.id
    session["csrf"] = secrets.token_urlsafe(24)


def sign_out(request: Request) -> None:
    _session(request).clear()


def session_user_id(request: Request) -> int | None:
    if "session" not in request.scope:
        return None
    uid = _session(request).get("uid")
    return uid if isinstance(uid, int) else None
