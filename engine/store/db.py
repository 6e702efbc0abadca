"""Engines and sessions. SQLite gets WAL, foreign keys and a busy timeout on every connection."""

from __future__ import annotations

import random
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import InvalidInput


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (psycopg2 is not installed)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


#: How long a SQLite writer waits for the write lock before "database is locked".
BUSY_TIMEOUT_MS = 10_000
#: Longest pause between two tries for the write lock (see `_begin_immediate`).
MAX_PAUSE_S = 0.001


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see make_engine)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY = "contractflow_read_only"  # execution option of `Database.reads` sessions


def _sqlite_begin(conn: Any) -> None:
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        _begin_immediate(conn)


def _begin_immediate(conn: Any) -> None:
    """`BEGIN IMMEDIATE`, retried at most a millisecond apart until the write lock is ours.

    SQLite's own busy handler (what `busy_timeout` installs) backs off to 100 ms between
    tries, and its lock has no queue: with several writing processes a writer that has
    waited a while sleeps through every release while the others keep re-taking the lock
    (waits of seconds, up to the timeout). Trying again after at most `MAX_PAUSE_S`
    (jittered) keeps each waiter in the race. A try costs microseconds; the timeout and
    its "database is locked" error stay as they were.
    """
    raw = conn.connection.dbapi_connection
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.0005
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    break  # not a lock wait: let SQLAlchemy report it below
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, MAX_PAUSE_S)
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the last try; its error is the caller's
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for any SQLAlchemy URL; refuses a malformed URL with a one-line error."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise InvalidInput(f"database URL {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN until the first write, so a
        # read-then-write unit of work could interleave with another writer. Take the
        # write lock at the start instead (SQLAlchemy's documented recipe) - except in
        # sessions that only read (`Database.reads`): in WAL mode a reader needs no lock
        # and must not queue behind writers, nor make them queue behind it.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    try:
        return create_engine(parsed, **kwargs)
    except NoSuchModuleError:
        raise InvalidInput(
            f"database URL {url!r}: unknown database kind (use sqlite:///FILE or postgresql://...)"
        ) from None


_DATABASE = "contractflow_database"  # Session.info key: a weak reference to the Database


class _Session(Session):
    """Every Database's sessions are of this one class, so its commit listeners are
    registered once, at import. Listening on each `sessionmaker` instead registers on a
    class SQLAlchemy makes per sessionmaker, in a class-level registry whose entries hold
    the listener; a bound method there kept every Database (engine, pool, compiled-statement
    cache) alive for the life of the process: ~4,000 objects per Database, which made the
    test suite's full garbage collections grow to seconds."""


@event.listens_for(_Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("outbox_written", False):
        ref = session.info.get(_DATABASE)
        database = ref() if ref is not None else None
        if database is not None:
            database._outbox_committed()


@event.listens_for(_Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("outbox_written", None)


class Database:
    """An engine plus its session factory; one per process and URL."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        #: Copied into every session's `Session.info` (the runtime puts the audit key here).
        self.session_info: dict[str, Any] = {}
        self.sessions = sessionmaker(
            self.engine, class_=_Session, expire_on_commit=False, info=self.session_info
        )
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}),
            class_=_Session,
            expire_on_commit=False,
            info=self.session_info,
        )
        #: Commits that wrote outbox rows (a session flagged `info["outbox_written"]`).
        self.outbox_commits = 0
        self._outbox_listeners: list[Callable[[], None]] = []
        # Weak: the sessions find their Database without keeping it (and its engine) alive.
        self.session_info[_DATABASE] = weakref.ref(self)

    def on_outbox_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every commit that wrote outbox rows (the prompt sender's
        wake-up; it must be quick and must not touch the database)."""
        self._outbox_listeners.append(listener)

    def _outbox_committed(self) -> None:
        self.outbox_commits += 1
        for listener in self._outbox_listeners:
            listener()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reads(self) -> Iterator[Session]:
        """A transaction that only reads: one consistent snapshot, and on SQLite a plain
        (deferred) BEGIN instead of `BEGIN IMMEDIATE`, so it neither waits for nor blocks
        writers. Writing in it is a mistake (on SQLite it may fail with "database is
        locked" instead of waiting); use `transaction` for that."""
        with self._read_sessions() as session, session.begin():
            yield session

    def redacted_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()
