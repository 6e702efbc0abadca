"""Session cookie contents and CSRF tokens.

The session cookie is Starlette's signed cookie (itsdangerous, keyed by
`engine.services.sessions.session_secret`): HttpOnly, SameSite=Lax, and Secure when
`settings.cookie_secure` (on by default when `CONTRACTFLOW_BASE_URL` is https). It holds
a random session id (whose server-side row says who is signed in; see
`engine.services.sessions`) and a CSRF token; every form carries that token back and
every unsafe request made with the cookie must present it (a form field, or the
`X-CSRF-Token` header for scripts in the page).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request

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


def sign_in(request: Request, session_id: str) -> None:
    """Start a fresh cookie for a new server-side session (a new CSRF token too: no
    session fixation)."""
    session = _session(request)
    session.clear()
    session["sid"] = session_id
    session["csrf"] = secrets.token_urlsafe(24)


def sign_out(request: Request) -> str | None:
    """Clear the cookie; returns the session id it held (for the caller to revoke)."""
    session_id = session_id_of(request)
    _session(request).clear()
    return session_id


def session_id_of(request: Request) -> str | None:
    """The session id the cookie carries (not yet checked against the database)."""
    if "session" not in request.scope:
        return None
    sid = _session(request).get("sid")
    return sid if isinstance(sid, str) and 20 <= len(sid) <= 100 else None
