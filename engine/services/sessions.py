"""Web sessions: the key that signs the cookie, and the server-side record behind it.

Two layers, so that neither alone lets anyone in:

- the cookie is signed (Starlette's SessionMiddleware, itsdangerous) with a key that is
  never a public value: `CONTRACTFLOW_SECRET_KEY` when configured (the example value
  that used to ship, and keys shorter than 16 characters, are refused), otherwise a
  random key made on first start and kept in `data_dir/session.key` (mode 0600);
- the cookie holds a random 256-bit session id, and a request is signed in only while
  `web_sessions` has that id's SHA-256, unexpired and not revoked. Logout revokes the row;
  a password change, losing a role and deactivation revoke all of a user's rows. A forged
  or replayed cookie therefore gets nowhere once its row is gone, whatever the key.

The per-request check is the one statement that already loaded the user and their roles,
joined to `web_sessions` by its unique hash: one indexed lookup, no extra round trip.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy import bindparam, delete, or_, update
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.services.auth import Principal, principal_from_rows, user_with_roles
from engine.services.runtime import Runtime
from engine.settings import Settings
from engine.store import models as m

log = logging.getLogger("contractflow.auth")

#: How long a sign-in lasts (the cookie's max-age is the same).
SESSION_LIFETIME = dt.timedelta(hours=12)
KEY_FILE = "session.key"
MIN_KEY_LENGTH = 16
#: Values that were ever shipped or documented as the key: public, so never accepted.
PUBLIC_KEYS = frozenset({"change-me-in-production"})


# --------------------------------------------------------------------------- the key


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: the configured one (checked), else the data
    folder's, made on first start. Raises InvalidInput for a public or short key."""
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value()
        if key in PUBLIC_KEYS:
            raise InvalidInput(
                "CONTRACTFLOW_SECRET_KEY: this is the public example value, so anyone could "
                "sign a session cookie; set a long random value or unset it (a random key is "
                f"then kept in {settings.data_dir / KEY_FILE})"
            )
        if len(key) < MIN_KEY_LENGTH:
            raise InvalidInput(
                f"CONTRACTFLOW_SECRET_KEY: at least {MIN_KEY_LENGTH} characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return key
    return _key_file(settings.data_dir / KEY_FILE)


def _key_file(path: Path) -> str:
    """Read the key file, creating it once. Several workers starting together race to
    create it: each writes its own temporary file and links it into place, and the
    link fails for all but the first, so they all end up reading the same key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            else:
                log.info("made a new session key in %s (mode 0600)", path)
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("%s was readable by others (mode %o); now 0600", path, mode)
    key = path.read_text().strip()
    if len(key) < MIN_KEY_LENGTH:
        raise InvalidInput(
            f"{path}: the session key is empty or shorter than {MIN_KEY_LENGTH} characters; "
            "delete the file to make a new one (everyone signs in again)"
        )
    return key


# --------------------------------------------------------------------------- sessions


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


# Built once (see auth: a statement built per call costs more CPU than the query).
_PRINCIPAL_BY_SESSION = (
    user_with_roles()
    .join(m.WebSession, m.WebSession.user_id == m.User.id)
    .where(
        m.WebSession.token_hash == bindparam("token_hash"),
        m.WebSession.revoked_at.is_(None),
        m.WebSession.expires_at > bindparam("now"),
    )
)


def start_session(rt: Runtime, who: Principal) -> str:
    """A new session for `who`; returns the id the cookie carries (stored only hashed).
    The user's expired and revoked rows are cleared on the way, so the table holds about
    one row per signed-in browser."""
    session_id = secrets.token_urlsafe(32)
    now = rt.clock()
    with rt.db.transaction() as session:
        session.execute(
            delete(m.WebSession).where(
                m.WebSession.user_id == who.id,
                or_(m.WebSession.expires_at <= now, m.WebSession.revoked_at.is_not(None)),
            )
        )
        session.add(
            m.WebSession(
                token_hash=hash_session_id(session_id),
                user_id=who.id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return session_id


def session_principal(session: Session, session_id: str, now: dt.datetime) -> Principal | None:
    """The active user behind a live session id, or None (unknown, expired, revoked,
    or the user was deactivated)."""
    rows = session.execute(
        _PRINCIPAL_BY_SESSION, {"token_hash": hash_session_id(session_id), "now": now}
    ).all()
    return principal_from_rows(rows)


def end_session(rt: Runtime, session_id: str) -> None:
    """Logout: the session's row is revoked, so the same cookie replayed gets nowhere."""
    with rt.db.transaction() as session:
        session.execute(
            update(m.WebSession)
            .where(
                m.WebSession.token_hash == hash_session_id(session_id),
                m.WebSession.revoked_at.is_(None),
            )
            .values(revoked_at=rt.clock())
        )
