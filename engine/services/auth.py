"""Who is calling: password sign-in for the web pages, bearer tokens for scripts.

Tokens are random (256 bits) and shown once; only their SHA-256 is stored, so a leaked
database does not leak working tokens. A slow hash (argon2) buys nothing for a value with
that much entropy and would cost milliseconds on every API call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.orm import Session

from engine.domain.people import Principal as Principal  # re-exported: callers import it here
from engine.errors import InvalidInput, NotFound
from engine.services import admin_log
from engine.services.admin_log import Actor, command_line_actor
from engine.services.runtime import Runtime
from engine.services.users import get_user, verify_password
from engine.store import models as m

TOKEN_PREFIX = "cft_"  # noqa: S105 - a marker, not a secret
#: `last_used_at` is refreshed at most this often, so API calls do not all write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


class TokenView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    user: str
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked: bool


class NewToken(BaseModel):
    """A token as created: the secret appears here and nowhere else, ever."""

    model_config = ConfigDict(frozen=True)

    id: int
    user: str
    name: str
    token: str


def principal(user: m.User) -> Principal:
    return Principal(
        id=user.id, username=user.username, roles=frozenset(user.role_names), email=user.email
    )


def principal_from_rows(rows: Sequence[Row[*tuple[Any, ...]]]) -> Principal | None:
    """(user id, username, email, active, role) rows of one user -> Principal."""
    if not rows or not rows[0].active:
        return None
    first = rows[0]
    return Principal(
        id=first.id,
        username=first.username,
        roles=frozenset(r.role for r in rows if r.role is not None),
        email=first.email,
    )


def user_with_roles() -> Select[int, str, str | None, bool, str]:
    """The user's columns and one row per role, in one statement (no ORM objects: this runs
    on every request)."""
    return select(
        m.User.id, m.User.username, m.User.email, m.User.active, m.UserRole.role
    ).outerjoin(m.UserRole, m.UserRole.user_id == m.User.id)


# Built once: SQLAlchemy then reuses each statement's cache key and compiled form, where a
# statement built per call costs more CPU than the query itself (these run on every request).
_PRINCIPAL_BY_ID = user_with_roles().where(m.User.id == bindparam("user_id"))
_PRINCIPAL_BY_TOKEN = (
    user_with_roles()
    .add_columns(m.ApiToken.id.label("token_id"), m.ApiToken.last_used_at)
    .join(m.ApiToken, m.ApiToken.user_id == m.User.id)
    .where(m.ApiToken.token_hash == bindparam("token_hash"), m.ApiToken.revoked_at.is_(None))
)
_TOKEN_USED = (
    update(m.ApiToken)
    .where(m.ApiToken.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)


def load_principal(session: Session, user_id: int) -> Principal | None:
    """The user behind a session cookie, or None when they were removed or deactivated."""
    rows = session.execute(_PRINCIPAL_BY_ID, {"user_id": user_id}).all()
    return principal_from_rows(rows)


def authenticate(rt: Runtime, username: str, password: str) -> Principal | None:
    """Check a user name and password; None for any failure (never say which part was wrong)."""
    with rt.db.sessions() as session:
        user = session.scalar(select(m.User).where(m.User.username == username.strip()))
        stored = user.password_hash if user is not None and user.active else None
        if not verify_password(stored, password) or user is None:
            return None
        return principal(user)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    rt: Runtime, username: str, name: str = "", *, by: Actor | None = None
) -> NewToken:
    """A new API token for `username` (an existing, active user), in the admin log."""
    if len(name) > 100:
        raise InvalidInput("--name: at most 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = rt.clock()
    with rt.db.transaction() as session:
        user = get_user(session, username)
        if not user.active:
            raise InvalidInput(f"user {username!r} is deactivated")
        row = m.ApiToken(user_id=user.id, token_hash=hash_token(token), name=name, created_at=now)
        session.add(row)
        session.flush()
        admin_log.record(
            session,
            by if by is not None else command_line_actor(),
            "token_created",
            user.username,
            now,
            {"token_id": row.id, "name": name},
        )
        return NewToken(id=row.id, user=user.username, name=name, token=token)


def principal_for_token(rt: Runtime, token: str) -> Principal | None:
    """The user a bearer token stands for; None when unknown, revoked or the user is inactive.

    One statement reads the token, its user and their roles (every API call pays for this);
    `last_used_at` is written at most every LAST_USED_RESOLUTION."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with rt.db.sessions() as session:
        rows = session.execute(_PRINCIPAL_BY_TOKEN, {"token_hash": hash_token(token)}).all()
        found = principal_from_rows(rows)
        if found is None:
            return None
        now = rt.clock()
        last_used = rows[0].last_used_at
        if last_used is None or now - last_used > LAST_USED_RESOLUTION:
            session.execute(_TOKEN_USED, {"token_id": rows[0].token_id, "now": now})
            session.commit()
        return found


def list_tokens(rt: Runtime, username: str | None = None) -> list[TokenView]:
    with rt.db.sessions() as session:
        query = select(m.ApiToken, m.User.username).join(m.User, m.User.id == m.ApiToken.user_id)
        if username is not None:
            query = query.where(m.User.username == username)
        return [
            TokenView(
                id=tok.id,
                user=user,
                name=tok.name,
                created_at=tok.created_at,
                last_used_at=tok.last_used_at,
                revoked=tok.revoked_at is not None,
            )
            for tok, user in session.execute(query.order_by(m.ApiToken.id))
        ]


def revoke_token(rt: Runtime, token_id: int, *, by: Actor | None = None) -> TokenView:
    """Revoke a token (at once: the next request with it gets 401), in the admin log."""
    now = rt.clock()
    with rt.db.transaction() as session:
        row = session.get(m.ApiToken, token_id)
        if row is None:
            raise NotFound(f"token {token_id} does not exist")
        user = session.get(m.User, row.user_id)
        if row.revoked_at is None:
            row.revoked_at = now
            admin_log.record(
                session,
                by if by is not None else command_line_actor(),
                "token_revoked",
                user.username if user else "",
                now,
                {"token_id": row.id, "name": row.name},
            )
        return TokenView(
            id=row.id,
            user=user.username if user else "",
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked=True,
        )
