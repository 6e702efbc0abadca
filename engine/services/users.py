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

from engine import i18n
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
        display_name=user.display_name,
        email=user.email,
        roles=user.role_names,
        active=user.active,
        notify=user.notify,
        team=user.team,
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
    display_name: str | None = None,
    notify: str | None = None,
    *,
    team: str | None = None,
    language: str | None = None,
    by: Actor | None = None,
) -> UserView:
    """Add a user, or update an existing one (roles given replace the old ones; an empty
    `display_name` removes it).

    Every change goes in the admin log (`by`: who made it; default the command-line
    account). Setting a password or taking a role away ends the user's web sessions:
    whoever held the old password or role must sign in again."""
    problems = check_user_input(username, roles, email)
    problems.extend(display_name_problems(display_name))
    problems.extend(check_notify(notify))
    problems.extend(team_problems(team))
    problems.extend(i18n.language_problems(language))
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
        if display_name is not None:
            user.display_name = display_name.strip() or None
        if notify is not None and notify != user.notify:
            if not created:
                admin_log.record(
                    session,
                    actor,
                    "notify_changed",
                    username,
                    now,
                    {"from": user.notify, "to": notify},
                )
            user.notify = notify
        _set_team(session, actor, user, team, now, log_it=not created)
        if language is not None:
            user.language = i18n.normalise(language)
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


def display_name_problems(display_name: str | None) -> list[str]:
    """A display name is one line a person reads: up to 100 characters, no control
    characters (Chinese and other scripts are welcome)."""
    if display_name is None:
        return []
    if len(display_name.strip()) > 100:
        return ["--display-name: at most 100 characters"]
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in display_name):
        return ["--display-name: no control characters (line breaks, tabs, ...)"]
    return []


def display_names(session: Session, usernames: Sequence[str] | None = None) -> dict[str, str]:
    """Login name -> display name, for the users that have one (all, or those named)."""
    query = select(m.User.username, m.User.display_name).where(m.User.display_name.is_not(None))
    if usernames is not None:
        query = query.where(m.User.username.in_(sorted(set(usernames))))
    return {name: shown for name, shown in session.execute(query) if shown}


def revoke_sessions(session: Session, user_id: int, now: dt.datetime) -> int:
    """End every live web session of a user (in the caller's transaction); how many."""
    result = session.execute(
        update(m.WebSession)
        .where(m.WebSession.user_id == user_id, m.WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class Deactivation(BaseModel):
    """What deactivating (or reactivating) a user did."""

    model_config = ConfigDict(frozen=True)

    username: str
    active: bool
    sessions_ended: int = 0
    tokens_revoked: int = 0
    tasks_unassigned: list[int] = Field(default_factory=list)


def set_active(
    rt: Runtime, username: str, active: bool, *, by: Actor | None = None
) -> Deactivation:
    """Deactivate (offboard) or reactivate a user.

    Deactivating ends the user's web sessions and revokes their API tokens at once (a
    reactivated user signs in again and makes new tokens: an old token never comes back
    to life), and gives their open assigned tasks back to the role pool (unassigned, with
    a `reassign` event on each contract). The last active admin cannot be deactivated,
    nor can an admin deactivate themselves from the web (someone must be left to undo it).
    """
    from engine.services import audit

    actor = by if by is not None else command_line_actor()
    now = rt.clock()
    with rt.db.transaction() as session:
        user = get_user(session, username)
        if user.active == active:
            state = "active" if active else "deactivated"
            raise Conflict(f"user {username!r} is already {state}")
        if not active:
            if isinstance(actor, Principal) and actor.id == user.id:
                raise Forbidden("you may not deactivate yourself; ask another admin")
            if "admin" in user.role_names and _other_active_admins(session, user.id) == 0:
                raise Conflict(f"{username} is the last active admin; make another admin first")
        user.active = active
        if active:
            admin_log.record(session, actor, "user_reactivated", username, now, {})
            return Deactivation(username=username, active=True)
        ended = revoke_sessions(session, user.id, now)
        tokens = session.execute(
            update(m.ApiToken)
            .where(m.ApiToken.user_id == user.id, m.ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        revoked = int(getattr(tokens, "rowcount", 0) or 0)
        unassigned: list[int] = []
        open_tasks = session.execute(
            select(m.Task, m.Contract)
            .join(m.Contract, m.Contract.id == m.Task.contract_id)
            .where(m.Task.assignee_id == user.id, m.Task.status == "open")
            .order_by(m.Task.id)
        ).all()
        for task, contract in open_tasks:
            task.assignee_id = None
            contract.updated_at = now  # takes the contract's row lock (version bump)
            session.flush()
            audit.append(
                session,
                contract.id,
                "reassign",
                at=now,
                actor_id=actor.id if isinstance(actor, Principal) else None,
                task_id=task.id,
                from_stage=contract.stage,
                to_stage=contract.stage,
                revision=contract.current_revision,
                comment=f"{username} was deactivated; the task is back with the role",
                details={"role": task.role, "from": username, "to": None},
            )
            unassigned.append(task.id)
        outcome = Deactivation(
            username=username,
            active=False,
            sessions_ended=ended,
            tokens_revoked=revoked,
            tasks_unassigned=unassigned,
        )
        admin_log.record(
            session,
            actor,
            "user_deactivated",
            username,
            now,
            outcome.model_dump(include={"sessions_ended", "tokens_revoked", "tasks_unassigned"}),
        )
        log.info("deactivated %s: %s", username, outcome)
        return outcome


def _other_active_admins(session: Session, user_id: int) -> int:
    return len([u for u in users_with_role(session, "admin") if u.id != user_id and u.active])


def team_problems(team: str | None) -> list[str]:
    """A team is a short one-line name (Chinese welcome); '' means no team."""
    if team is None or team == "":
        return []
    if len(team.strip()) > 64:
        return ["--team: at most 64 characters"]
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in team):
        return ["--team: one line without control characters"]
    if not team.strip():
        return ["--team: give a name, or '' for no team"]
    return []


def _set_team(
    session: Session, actor: Actor, user: m.User, team: str | None, now: dt.datetime, log_it: bool
) -> None:
    if team is None:
        return
    wanted = team.strip() or None
    if wanted == user.team:
        return
    if log_it:
        admin_log.record(
            session, actor, "team_changed", user.username, now, {"from": user.team, "to": wanted}
        )
    user.team = wanted


def check_notify(notify: str | None) -> list[str]:
    if notify is not None and notify not in m.NOTIFY_PREFERENCES:
        return [f"--notify: {notify!r} is not one of {', '.join(m.NOTIFY_PREFERENCES)}"]
    return []


def set_user(
    rt: Runtime,
    username: str,
    *,
    display_name: str | None = None,
    email: str | None = None,
    notify: str | None = None,
    team: str | None = None,
    language: str | None = None,
    by: Actor | None = None,
) -> UserView:
    """`users set`: change an existing user's display name (an empty one removes it),
    email or notification preference (nothing else moves); in the admin log like every
    change to a user."""
    problems = check_notify(notify) + display_name_problems(display_name) + team_problems(team)
    problems.extend(i18n.language_problems(language))
    if email is not None and email and not re.match(EMAIL_PATTERN, email):
        problems.append(f"--email: {email!r} is not an email address")
    if problems:
        raise InvalidInput(problems)
    actor = by if by is not None else command_line_actor()
    now = rt.clock()
    with rt.db.transaction() as session:
        user = get_user(session, username)
        if display_name is not None:
            user.display_name = display_name.strip() or None
        if email is not None and (email or None) != user.email:
            admin_log.record(
                session, actor, "email_changed", username, now, {"from": user.email, "to": email}
            )
            user.email = email or None
        if notify is not None and notify != user.notify:
            admin_log.record(
                session, actor, "notify_changed", username, now, {"from": user.notify, "to": notify}
            )
            user.notify = notify
        _set_team(session, actor, user, team, now, log_it=True)
        if language is not None:
            user.language = i18n.normalise(language)
        session.flush()
        return view(user)


def list_users(rt: Runtime) -> list[UserView]:
    with rt.db.sessions() as session:
        return [view(u) for u in session.scalars(select(m.User).order_by(m.User.username))]
