"""The plumbing every lifecycle use case shares: one transaction whose lost races surface
as `Conflict`, the acting user read with their roles, the row lock, the role check.

The first write of every use case is the contract row's version-checked UPDATE
(`lock_row`): optimistic locking, and on PostgreSQL the row lock that makes a racing
writer wait and then fail, so two people acting at once cannot both win.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import Conflict, Forbidden, NotFound
from engine.services import audit
from engine.services.runtime import Runtime
from engine.services.transitions import Someone
from engine.store import models as m

if TYPE_CHECKING:
    from sqlalchemy import Table


#: Tests only: a folder. A unit of work that wrote audit events then flushes, creates
#: `paused-<pid>` there and waits for `resume` before it commits, so a test can kill the
#: process inside the write transaction (tests/integration/workflow/test_kill_in_transaction.py).
PAUSE_ENV = "CONTRACTFLOW_TEST_PAUSE_BEFORE_COMMIT"


@contextmanager
def unit_of_work(rt: Runtime) -> Iterator[Session]:
    """A transaction whose lost races surface as `Conflict`."""
    try:
        with rt.db.transaction() as session:
            yield session
            if PAUSE_ENV in os.environ:  # one dict lookup per unit of work otherwise
                _pause_before_commit(session, Path(os.environ[PAUSE_ENV]))
    except StaleDataError:
        raise Conflict(
            "someone else changed this contract at the same time; nothing was changed, "
            "look at it again and retry"
        ) from None
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        if "uq_approvals_task_user" in text or ("approvals" in text and "unique" in text):
            raise Conflict("this approval is already recorded") from None
        if "uq_contracts_code" in text or ("contracts" in text and "code" in text):
            raise Conflict("a contract with this id was stored at the same time; retry") from None
        if "uq_audit_events_contract_seq" in text or "audit_events" in text:
            raise Conflict("someone else acted on this contract at the same time; retry") from None
        raise


def _pause_before_commit(session: Session, folder: Path) -> None:
    if not session.info.get(audit.WROTE_EVENTS):
        return  # only the transactions that change a contract (they all append an event)
    session.flush()
    (folder / f"paused-{os.getpid()}").touch()
    while not (folder / "resume").exists():
        time.sleep(0.01)


def table(model: type[m.Base]) -> Table:
    return cast("Table", model.__table__)


@dataclass(frozen=True)
class Person:
    """A user as the lifecycle needs them: who, and which roles (read per call, never
    cached: a role taken away applies to the next action)."""

    id: int
    username: str
    role_names: tuple[str, ...]


_USER_ROLES = (
    select(table(m.User).c.id, table(m.UserRole).c.role)
    .outerjoin(table(m.UserRole), table(m.UserRole).c.user_id == table(m.User).c.id)
    .where(table(m.User).c.username == bindparam("username"))
)


def get_user(session: Session, username: str) -> Person:
    """A user with their roles: one prebuilt statement of plain columns (no ORM objects to
    build; the users service's lookup takes two)."""
    rows = session.connection().execute(_USER_ROLES, {"username": username}).all()
    if not rows:
        raise NotFound(f"user {username!r} does not exist (add it with `contractflow users add`)")
    return Person(rows[0][0], username, tuple(sorted(r for _, r in rows if r is not None)))


def evaluator_ready(rt: Runtime) -> None:
    """Start the risk evaluator before our transaction opens: building it reads the stored
    rule set in a transaction of its own, which on SQLite would wait for our write lock."""
    _ = rt.evaluator


def lock_row(row: m.Contract, now: dt.datetime) -> None:
    """Bump the contract's version now: the UPDATE takes the row lock before any reads
    that the decision depends on are acted upon."""
    row.updated_at = now


def require_role(user: Someone, roles: frozenset[str], what: str) -> None:
    if not roles & set(user.role_names):
        raise Forbidden(
            f"{user.username} may not {what} (needs one of: {', '.join(sorted(roles))})"
        )
