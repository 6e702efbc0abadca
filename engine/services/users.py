"""People: add or update users, (de)activate them, list them, hash and check passwords
(argon2). Every change is recorded in the admin log (`engine.services.admin_log`)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.domain.people import ROLE_DESCRIPTIONS, Principal, Role, UserView
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.services import admin_log
from engine.services.admin_log import Actor, command_line_actor
from engine.services.runtime import Runtime
from engine.store import models as m

log = logging.getLogger("contractflow.auth")

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check; a user without a password can never sign in."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if not password_hash:
        _hasher().hash(password)  # spend the same time as a real check
        return False
    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def seed_roles(session: Session) -> None:
    """Make sure every role the product knows exists (idempotent)."""
    existing = set(session.scalars(select(m.Role.name)))
    for role, description in ROLE_DESCRIPTIONS.items():
        if role.value not in existing:
            session.add(m.Role(name=role.value, description=description))


def view(user: m.User) -> UserView:
    return UserView(
        username=user.username,
        email=user.email,
        roles=user.role_names,
        active=user.active,
        notify=user.notify,
    )


def get_user(session: Session, username: str) -> m.User:
    user = session.scalar(select(m.User).where(m.User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} does not exist (add it with `contractflow users add`)")
    return user


def users_with_role(session: Session, role: str) -> list[m.User]:
    return list(
        session.scalars(
            select(m.User)
            .join(m.UserRole)
            .where(m.UserRole.role == role, m.User.active.is_(True))
            .order_by(m.User.username)
        )
    )


def check_user_input(username: str, roles: Sequence[str], email: str | None) -> list[str]:
    problems = []
    if not re.match(USERNAME_PATTERN, username):
        problems.append(
            f"username: {username!r} must be lower-case letters, digits, '.', '_' or '-' "
            "(at most 64)"
        )
    known = {r.value for r in Role}
    for role in roles:
        if role not in known:
            problems.append(f"--role: {role!r} is not a role; known: {', '.join(sorted(known))}")
    if email is not None and not re.match(EMAIL_PATTERN, email):
        problems.append(f"--email: {email!r} is not an email address")
    return problems


def add_user(
    rt: Runtime,
    username: str,
    roles: Sequence[str],
    email: str | None = None,
    password: str | None = None,
    notify: str | None = None,
    *,
    by: Actor | None = None,
) -> UserView:
    """Add a user, or update an existing one (roles given replace the old ones).

    Every change goes in the admin log (`by`: who made it; default the command-line
    account). Setting a password or taking a role away ends the user's web sessions:
    whoever held the old password or role must sign in again."""
    problems = check_user_input(username, roles, email)
    problems.extend(check_notify(notify))
    if password is not None and len(password) < 8:
        problems.append("password: at least 8 characters")
    if problems:
        raise InvalidInput(problems)
    actor = by if by is not None else command_line_actor()
    now = rt.clock()
    with rt.db.transaction() as session:
        seed_roles(session)
        session.flush()
        user = session.scalar(select(m.User).where(m.User.username == username))
        created = user is None
        if user is None:
            user = m.User(username=username)
            session.add(user)
        before = set(user.role_names) if not created else set()
        if email is not None and email != user.email:
            if not created:
                admin_log.record(
                    session,
                    actor,
                    "email_changed",
                    username,
                    now,
                    {"from": user.email, "to": email},
                )
            user.email = email
        if notify is not None and notify != user.notify:
            if not created:
                admin_log.record(
                    session, actor, "notify_changed", username, now,
                    {"from": user.notify, "to": notify},
                )
            user.notify = notify
        if roles:
            wanted = set(roles)
            user.roles = [r for r in user.roles if r.role in wanted] + [
                m.UserRole(role=r) for r in sorted(wanted - before)
            ]
        session.flush()
        after = set(user.role_names)
        if created:
            admin_log.record(
                session, actor, "user_created", username, now, {"roles": sorted(after)}
            )
        elif after != before:
            admin_log.record(
                session,
                actor,
                "roles_changed",
                username,
                now,
                {"added": sorted(after - before), "removed": sorted(before - after)},
            )
        ended = 0
        if password is not None:
            user.password_hash = hash_password(password)
            admin_log.record(session, actor, "password_set", username, now, {})
            if not created:
                ended = revoke_sessions(session, user.id, now)
        elif before - after:
            ended = revoke_sessions(session, user.id, now)
        if ended:
            log.info("ended %d web session(s) of %s", ended, username)
        session.flush()
        return view(user)


    notify: str | None = None,
    *,
    by: Actor | None = None,


def list_users(rt: Runtime) -> list[UserView]:
    with rt.db.sessions() as session:
        return [view(u) for u in session.scalars(select(m.User).order_by(m.User.username))]
