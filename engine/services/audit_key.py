"""The audit trail's key: a secret kept outside the database (issue 18, item 5).

Someone who can write to the database but cannot read this key cannot forge the audit
chain. It comes from `CONTRACTFLOW_AUDIT_KEY` when set, else from `audit.key` in the data
folder, created on first use (32 random bytes, hex, mode 0600). A key file others may read
is refused: a key anyone can read protects nothing.

Every event records the id of the key that signed it. Before the first event a process
writes, it checks that id against the newest keyed event in the database: a process
started with another data folder (a fresh key) or a mistyped variable would otherwise
sign new events with a key that `audit verify` then rejects.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput
from engine.settings import Settings
from engine.store import models as m
from engine.store.audit_hash import key_id

KEY_FILE = "audit.key"
MIN_KEY_CHARS = 32
#: `Session.info` entry that holds the process's `AuditKey` (see `Runtime`).
SESSION_INFO = "contractflow_audit_key"


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def _from_file(path: Path) -> bytes:
    """Read the key file, creating it (0600, exclusive) when it does not exist yet."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # made by an earlier run, or by another process a moment ago
    except OSError as exc:
        raise InvalidInput(f"audit key {path}: cannot create ({exc.strerror or exc})") from None
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"audit key {path}: cannot read ({exc})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"audit key {path}: readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    if len(text) < MIN_KEY_CHARS:
        # An empty file: another process is writing it right now (exclusive create, then
        # write); anything else short is not a key we made.
        raise InvalidInput(f"audit key {path}: shorter than {MIN_KEY_CHARS} characters")
    return text.encode()


def load_key(settings: Settings) -> bytes:
    """The key bytes from the setting or the key file (made on first use)."""
    if settings.audit_key is not None:
        text = settings.audit_key.get_secret_value().strip()
        if len(text) < MIN_KEY_CHARS:
            raise InvalidInput(
                f"CONTRACTFLOW_AUDIT_KEY: at least {MIN_KEY_CHARS} characters (e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return text.encode()
    return _from_file(key_path(settings))


def where_from(settings: Settings) -> str:
    return "CONTRACTFLOW_AUDIT_KEY" if settings.audit_key is not None else str(key_path(settings))


class AuditKey:
    """The process's key, loaded on first use and checked once against the database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._key: bytes | None = None
        self._id: str | None = None
        self._checked = False
        self._lock = threading.Lock()

    def get(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    key = load_key(self.settings)
                    self._id = key_id(key)
                    self._key = key
        return self._key

    @property
    def id(self) -> str:
        self.get()
        assert self._id is not None
        return self._id

    def for_writing(self, session: Session) -> tuple[bytes, str]:
        """The key and its id, refusing to sign when the trail is signed with another."""
        key = self.get()
        if not self._checked:
            with session.no_autoflush:  # the caller's own statements keep their order
                newest = session.scalar(
                    select(m.AuditEvent.key_id)
                    .where(m.AuditEvent.key_id.is_not(None))
                    .order_by(m.AuditEvent.id.desc())
                    .limit(1)
                )
            if newest is not None and newest != self.id:
                raise InvalidInput(
                    f"the audit trail is signed with key {newest}, but this process has key "
                    f"{self.id} (from {where_from(self.settings)}); set CONTRACTFLOW_AUDIT_KEY "
                    "or CONTRACTFLOW_DATA_DIR to the deployment's key. Nothing was changed"
                )
            self._checked = True
        return key, self.id


def session_key(session: Session) -> AuditKey:
    """The `AuditKey` a `Runtime` attached to its database's sessions."""
    found = session.info.get(SESSION_INFO)
    if not isinstance(found, AuditKey):
        raise RuntimeError("this session has no audit key: open it through a Runtime")
    return found
