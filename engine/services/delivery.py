"""Delivering outbox rows: claim, send over one SMTP connection, mark sent — one row at a time.

Exactly-once as far as email allows (DESIGN.md):

1. **Claim** a batch in one transaction: pending rows whose `next_attempt_at` has come (or is
   empty), oldest first; each gets a lease (`next_attempt_at = now + lease`) and `attempts + 1`.
   On PostgreSQL the claim takes `FOR UPDATE SKIP LOCKED`, so two senders never share a row.
2. **Send** each message with its stable Message-ID.
3. **Mark** it sent in its own transaction straight after the server's 250; the next message's
   content is not sent before that mark is committed (`_Recorder`).

A crash between 2 and 3 leaves the row pending under its lease; once the lease runs out the
next run sends it again with the same Message-ID: at most one duplicate per crash, and it is
recognisable. A crash before 2 sends nothing twice. A mail server that is down stops the
batch: every row stays pending (lease released) and goes out on a later run.

Where the time goes, and how it is overlapped: a message is 3 + (number of recipients) SMTP
round trips, each waiting on the server. While the server digests one message's content, the
next one is rendered and assembled (`_prepare`, pure CPU); the "sent" UPDATE of one message
travels to the database while the next message's MAIL and RCPT commands are answered.

Replies: 5xx marks the row `failed` with the server's words; 4xx is retried in the batch with
backoff, then the row waits `retry_after(attempts)` before the next run tries it; after
`max_attempts` it is `failed`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, func, or_, select, text, update

from engine.notify.message import build_message
from engine.notify.render import render_email
from engine.notify.smtp import (
    PermanentDeliveryError,
    SmtpConfig,
    SmtpSender,
    SmtpUnavailable,
    TransientDeliveryError,
)
from engine.services.action_links import links_for
from engine.services.runtime import Runtime
from engine.store import models as m

DEFAULT_LEASE = dt.timedelta(minutes=5)


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0  # failed for good in this run (5xx, no recipients, too many attempts)
    deferred: int = 0  # still pending after this run (4xx, or the server was unreachable)
    unavailable: str | None = None  # why the batch stopped early, when it did
    budget_used_up: int | None = None  # the time budget (s) that stopped the run, if one did

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "deferred": self.deferred}


def smtp_config(rt: Runtime) -> SmtpConfig:
    s = rt.settings
    return SmtpConfig(
        host=s.smtp_host,
        port=s.smtp_port,
        user=s.smtp_user,
        password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        starttls=s.smtp_starttls,
        timeout=s.smtp_timeout_seconds,
        ssl=s.smtp_ssl,
    )


def mail_domain(rt: Runtime) -> str:
    """The right-hand side of Message-IDs: the sender address's domain."""
    _, _, domain = rt.settings.mail_from.rpartition("@")
    return domain.strip(">").strip() or "contractflow.local"


def retry_after(attempts: int) -> dt.timedelta:
    """Wait before the next run retries a message the server deferred (4xx): 5 min doubling, 6 h cap."""
    return min(dt.timedelta(minutes=5) * 2 ** max(attempts - 1, 0), dt.timedelta(hours=6))


def _eligible(now: dt.datetime):  # type: ignore[no-untyped-def]
    return (m.OutboxMessage.status == "pending") & or_(
        m.OutboxMessage.next_attempt_at.is_(None), m.OutboxMessage.next_attempt_at <= now
    )


@dataclass(frozen=True)
class Claimed:
    """What the sender needs of a leased outbox row (`attempts` already counts this try)."""

    id: int
    key: str
    kind: str
    level: str
    recipients: list[str]
    subject: str
    payload: dict[str, Any]
    message_id: str
    attempts: int


_CLAIMED_COLUMNS = tuple(
    getattr(m.OutboxMessage, name)
    for name in (
        "id",
        "key",
        "kind",
        "level",
        "recipients",
        "subject",
        "payload",
        "message_id",
        "attempts",
    )
)


def claim(
    rt: Runtime, *, after_id: int, limit: int, lease: dt.timedelta, kinds: tuple[str, ...] | None
) -> list[Claimed]:
    """Lease up to `limit` due rows with id > `after_id`, oldest first (see module docstring).

    PostgreSQL: one statement, `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
    RETURNING ...` - one round trip and one new row version per row. The lease is committed
    without waiting for the disk (`synchronous_commit = off`), like the sent marks: only a
    crash of the database server could forget it, and then the rows are merely claimable
    again. SQLite (one writer at a time): select, then update, in one transaction.
    """
    now = rt.clock()
    due = (
        select(m.OutboxMessage.id)
        .where(_eligible(now), m.OutboxMessage.id > after_id)
        .order_by(m.OutboxMessage.id)
        .limit(limit)
    )
    if kinds:
        due = due.where(m.OutboxMessage.kind.in_(kinds))
    lease_values = {"next_attempt_at": now + lease, "attempts": m.OutboxMessage.attempts + 1}
    with rt.db.transaction() as session:
        if rt.db.dialect == "postgresql":
            session.execute(text("SET LOCAL synchronous_commit = off"))
            returned = session.execute(
                update(m.OutboxMessage)
                .where(
                    m.OutboxMessage.id.in_(due.with_for_update(skip_locked=True).scalar_subquery())
                )
                .values(**lease_values)
                .returning(*_CLAIMED_COLUMNS)
                .execution_options(synchronize_session=False)
            ).all()
            rows = sorted((Claimed(*r) for r in returned), key=lambda r: r.id)
        else:
            ids = list(session.scalars(due))
            if not ids:
                return []
            session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.id.in_(ids))
                .values(**lease_values)
                .execution_options(synchronize_session=False)
            )
            rows = [
                Claimed(*r)
                for r in session.execute(
                    select(*_CLAIMED_COLUMNS)
                    .where(m.OutboxMessage.id.in_(ids))
                    .order_by(m.OutboxMessage.id)
                )
            ]
    return rows


#: What `_Recorder.finish` may set.
_OUTCOME_COLUMNS = frozenset({"status", "sent_at", "next_attempt_at", "last_error"})


class _Recorder:
    """Writes each message's outcome; a "sent" mark is committed before the next message can
    be accepted by the server.

    PostgreSQL: one autocommit `UPDATE` per message on a connection held for the run, with
    `synchronous_commit = off` - a crash of *our* process still loses nothing (the commit is in
    the server); only a crash of the database server itself could forget the last fraction of
    a second of "sent" marks, and those alerts would go out again with their original
    Message-ID. Waiting for the disk on every message cost ~15 ms per email.

    The UPDATE is only *sent* by `finish` (libpq's asynchronous query API); its round trip
    overlaps the next message's MAIL and RCPT round trips instead of adding to them. `wait()`
    - called by the sender right before the next message's DATA, the point after which the
    server may accept it - reads the result, i.e. blocks until the mark is committed. So at
    any moment at most one message can have been accepted by the server without being marked
    sent: a crash still causes at most one duplicate, never a batch of them. (A helper thread
    did the same job but cost more: it competed with the sending thread for the GIL on every
    message.) SQLite: a transaction per message (WAL with synchronous=NORMAL does not fsync).
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._conn: Connection | None = None
        self._pq: Any = None  # the libpq connection (psycopg.pq.PGconn) under `_conn`
        self._in_flight = False

    def __enter__(self) -> _Recorder:
        if self.rt.db.dialect == "postgresql":
            conn = self.rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET synchronous_commit = off")
            self._conn = conn
            driver = conn.connection.driver_connection
            self._pq = getattr(driver, "pgconn", None)  # psycopg 3; else plain execution
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            if exc_type is None:
                self.wait()
            else:  # already failing: still let the last mark land, but keep the first error
                with contextlib.suppress(Exception):
                    self.wait()
        finally:
            if self._conn is not None:
                try:
                    with contextlib.suppress(Exception):
                        self._conn.exec_driver_sql("RESET synchronous_commit")
                finally:
                    self._conn.close()
                    self._conn = None
                    self._pq = None

    def finish(self, row_id: int, **values: object) -> None:
        """Record a row's outcome (on PostgreSQL: send it; `wait()` makes sure it landed)."""
        if self._pq is not None:
            self.wait()  # one mark in flight at a time, in order
            sql, params = _outcome_update(row_id, values)
            self._pq.send_query_params(sql, params)
            self._in_flight = True
            return
        statement = update(m.OutboxMessage).where(m.OutboxMessage.id == row_id).values(**values)
        if self._conn is not None:
            self._conn.execute(statement)
            return
        with self.rt.db.transaction() as session:
            session.execute(statement.execution_options(synchronize_session=False))

    def wait(self) -> None:
        """Block until the last outcome is committed; raises what the database answered."""
        if not self._in_flight:
            return
        self._in_flight = False
        from psycopg import OperationalError, pq

        errors: list[str] = []
        while (result := self._pq.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                errors.append(result.get_error_message())
        if errors:
            raise OperationalError(f"marking an outbox row: {'; '.join(errors)}")


def _outcome_update(row_id: int, values: dict[str, object]) -> tuple[bytes, list[bytes | None]]:
    """`UPDATE outbox SET ... WHERE id = $n` with text-format parameters, for libpq directly:
    this runs once per email, and building it through SQLAlchemy cost more CPU (~0.2 ms) than
    the database spends on it. Column names come from this module, never from input."""
    unknown = set(values) - _OUTCOME_COLUMNS
    if unknown:
        raise ValueError(f"not an outcome column: {sorted(unknown)}")
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(values, start=1))
    sql = f"UPDATE outbox SET {assignments} WHERE id = ${len(values) + 1}"  # noqa: S608
    params: list[bytes | None] = [_pg_text(v) for v in values.values()]
    params.append(str(row_id).encode())
    return sql.encode(), params


def _pg_text(value: object) -> bytes | None:
    """A parameter in PostgreSQL's text format (`None` is NULL)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.isoformat().encode()
    return str(value).encode()


def _release(rt: Runtime, ids: list[int], reason: str | None) -> None:
    """Give claimed rows back untouched (the server went away before their turn)."""
    if not ids:
        return
    with rt.db.transaction() as session:
        values: dict[str, object] = {
            "next_attempt_at": None,
            "attempts": m.OutboxMessage.attempts - 1,
        }
        session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id.in_(ids), m.OutboxMessage.status == "pending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if reason is not None:
            session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.id == ids[0])
                .values(last_error=reason)
                .execution_options(synchronize_session=False)
            )


def count_due(rt: Runtime, kinds: tuple[str, ...] | None = None) -> int:
    with rt.db.sessions() as session:
        query = select(func.count()).select_from(m.OutboxMessage).where(_eligible(rt.clock()))
        if kinds:
            query = query.where(m.OutboxMessage.kind.in_(kinds))
        return int(session.scalar(query) or 0)


def send_pending(
    rt: Runtime,
    *,
    batch_size: int = 200,
    lease: dt.timedelta = DEFAULT_LEASE,
    retries: int = 3,
    backoff: float = 0.2,
    max_attempts: int = 10,
    kinds: tuple[str, ...] | None = None,
    limit: int | None = None,
    budget_seconds: float | None = None,
) -> SendResult:
    """Deliver due outbox rows (at most `limit`, oldest first) over one reused SMTP
    connection (see module docstring).

    A run stops starting new deliveries after `budget_seconds` (default: the setting
    `alerts_time_budget_seconds`): a server that greylists or answers slowly could
    otherwise hold one run (and the scheduler's slot) for hours. The rows not tried are
    given back untouched and stay pending for the next run."""
    result = SendResult()
    after_id = 0
    claimed = 0
    budget = rt.settings.alerts_time_budget_seconds if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    with (
        SmtpSender(smtp_config(rt), retries=retries, backoff=backoff) as sender,
        _Recorder(rt) as recorder,
    ):
        while limit is None or claimed < limit:
            size = batch_size if limit is None else min(batch_size, limit - claimed)
            rows = claim(rt, after_id=after_id, limit=size, lease=lease, kinds=kinds)
            claimed += len(rows)
            if not rows:
                break
            after_id = rows[-1].id
            ahead = _Lookahead(rt, rows)
            for index in range(len(rows)):
                if time.monotonic() >= deadline:
                    result.budget_used_up = math.ceil(budget)
                    recorder.wait()
                    _release(rt, [r.id for r in rows[index:]], None)
                    result.deferred += count_due(rt, kinds)
                    return result
                outcome = _deliver_one(
                    rt,
                    sender,
                    recorder,
                    ahead.take(index),
                    max_attempts=max_attempts,
                    meanwhile=partial(ahead.prepare, index + 1),
                )
                if outcome == "sent":
                    result.sent += 1
                elif outcome == "failed":
                    result.failed += 1
                elif outcome == "deferred":
                    result.deferred += 1
                else:  # the server is unreachable: give the rest back, stop the run
                    result.unavailable = outcome
                    recorder.wait()
                    _release(rt, [r.id for r in rows[index:]], outcome)
                    result.deferred += count_due(rt, kinds)
                    return result
    return result


@dataclass
class _Prepared:
    """A claimed row made ready to send: its recipients and wire bytes, or why it cannot be."""

    row: Claimed
    recipients: list[str]
    data: bytes | None = None
    error: Exception | None = None  # rendering failed (e.g. an operator's broken template)


class _Lookahead:
    """The claimed batch, each row rendered at most once - row i+1 while row i is on the wire."""

    def __init__(self, rt: Runtime, rows: list[Claimed]) -> None:
        self.rt = rt
        self.rows = rows
        self._ready: dict[int, _Prepared] = {}

    def prepare(self, index: int) -> None:
        if index < len(self.rows) and index not in self._ready:
            self._ready[index] = _prepare(self.rt, self.rows[index])

    def take(self, index: int) -> _Prepared:
        self.prepare(index)
        return self._ready.pop(index)


def _prepare(rt: Runtime, row: Claimed) -> _Prepared:
    """Render and assemble one row (CPU only: runs while the server digests the previous
    message). Never raises: a rendering error is kept and raised at the row's turn."""
    settings = rt.settings
    recipients = [r for r in (row.recipients or []) if r]
    if not recipients:
        return _Prepared(row, recipients)
    try:
        payload = dict(row.payload or {})
        if row.kind == "task_notice":
            # The one-click links are signed for this recipient now, from what the row
            # holds: never stored, and the same again if the row is resent.
            payload["actions"] = links_for(rt, payload)
            payload["link_days"] = settings.action_link_days
        rendered = render_email(
            settings.templates_dir / "email",
            kind=row.kind,
            level=row.level,
            subject=row.subject,
            payload=payload,
            base_url=settings.base_url,
            uid=row.message_id,
            mail_from=settings.mail_from,
            zone=settings.zone,
        )
        data = build_message(
            rendered,
            mail_from=settings.mail_from,
            recipients=recipients,
            message_id=row.message_id,
            date=rt.clock(),
            key=row.key,
        )
    except Exception as exc:
        return _Prepared(row, recipients, error=exc)
    return _Prepared(row, recipients, data=data)


def _deliver_one(
    rt: Runtime,
    sender: SmtpSender,
    recorder: _Recorder,
    prepared: _Prepared,
    *,
    max_attempts: int,
    meanwhile: Callable[[], None],
) -> str:
    """Send one claimed row and record the outcome: "sent", "failed", "deferred" or a reason."""
    settings = rt.settings
    now = rt.clock()
    row = prepared.row
    if prepared.error is not None:
        raise prepared.error
    if prepared.data is None:
        recorder.finish(
            row.id,
            status="failed",
            next_attempt_at=None,
            last_error="no recipient has an email address (set one with `contractflow users add "
            "NAME --email ADDR`, then `contractflow alerts retry ID`)",
        )
        return "failed"
    try:
        refused = sender.send(
            prepared.data,
            settings.mail_from,
            prepared.recipients,
            before_data=recorder.wait,
            meanwhile=meanwhile,
        )
    except SmtpUnavailable as exc:
        return f"mail server unavailable: {exc.reply}"
    except PermanentDeliveryError as exc:
        recorder.finish(row.id, status="failed", next_attempt_at=None, last_error=exc.reply)
        return "failed"
    except TransientDeliveryError as exc:
        if row.attempts >= max_attempts:
            recorder.finish(
                row.id,
                status="failed",
                next_attempt_at=None,
                last_error=f"gave up after {row.attempts} attempts: {exc.reply}",
            )
            return "failed"
        recorder.finish(
            row.id, next_attempt_at=now + retry_after(row.attempts), last_error=exc.reply
        )
        return "deferred"
    note = "; ".join(f"refused {addr}: {reply}" for addr, reply in sorted(refused.items()))
    recorder.finish(
        row.id, status="sent", sent_at=rt.clock(), next_attempt_at=None, last_error=note or None
    )
    return "sent"
