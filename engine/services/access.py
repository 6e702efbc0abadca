"""Who may see and do what, in one place, for every interface that has signed-in users.

Acting on a task (role, assignment, delegation, no self-approval) is decided by the
workflow services when the action is applied, inside the same transaction; this module
decides everything around it: which contracts a person may see, who may submit, revise,
fulfil obligations, read the dashboard or administer. The rules, by role:

- `admin` and `contract_manager` see every contract (portfolio oversight); so does
  `risk_officer`, who answers for the portfolio's risk.
- Everyone else sees a contract they own or submitted, or one with a task (open or
  closed) for a role they hold, assigned to them, or delegated to them today.
- `contract_admin` and `admin` submit drafts; the owner, the submitter or an `admin`
  revises one.
- The owner, the submitter, a `contract_manager` or an `admin` records fulfilment.
- The dashboard is for `admin`, `contract_manager`, `risk_officer` and `contract_admin`.
- The alert outbox is read by `admin` and `contract_manager`; only `admin` retries it and
  manages users and workflows.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from engine.domain.contract import CONTRACT_ID_PATTERN
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.services.auth import Principal
from engine.services.runtime import Runtime
from engine.store import models as m

SEE_ALL = ("admin", "contract_manager", "risk_officer")
SUBMITTERS = ("contract_admin", "admin")
DASHBOARD = ("admin", "contract_manager", "risk_officer", "contract_admin")
OUTBOX_READERS = ("admin", "contract_manager")
FULFILLERS = ("contract_manager", "admin")


def delegators_of(session: Session, who: Principal, today: dt.date) -> list[int]:
    """Ids of users whose tasks `who` may act on today (active delegations to them)."""
    return list(
        session.scalars(
            select(m.Delegation.from_user_id).where(
                m.Delegation.to_user_id == who.id,
                m.Delegation.starts_on <= today,
                m.Delegation.ends_on >= today,
            )
        )
    )


def visible_contracts(session: Session, who: Principal, today: dt.date) -> ColumnElement[bool]:
    """A WHERE clause over `contracts` that keeps what `who` may see."""
    if who.has(*SEE_ALL):
        return true()
    people = [who.id, *delegators_of(session, who, today)]
    task_for_me = exists().where(
        m.Task.contract_id == m.Contract.id,
        or_(
            m.Task.role.in_(sorted(who.roles)) if who.roles else false(),
            m.Task.assignee_id.in_(people),
        ),
    )
    return or_(m.Contract.owner_id == who.id, m.Contract.submitted_by_id == who.id, task_for_me)


def contract_row(session: Session, who: Principal, code: str, today: dt.date) -> m.Contract:
    """The contract `code` if `who` may see it. Not found and not visible look the same
    (404), so the API does not tell strangers which contract ids exist."""
    row = None
    if re.match(CONTRACT_ID_PATTERN, code):  # anything else cannot exist: no query
        row = session.scalar(
            select(m.Contract).where(
                and_(m.Contract.code == code, visible_contracts(session, who, today))
            )
        )
    if row is None:
        raise NotFound(f"contract {code!r} does not exist")
    return row


def require_visible(session: Session, who: Principal, code: str, today: dt.date) -> None:
    contract_row(session, who, code, today)


def may_submit(who: Principal) -> bool:
    return who.has(*SUBMITTERS)


def require_submit(who: Principal) -> None:
    if not may_submit(who):
        raise Forbidden(f"{who.username} may not submit contracts (needs role contract_admin)")


def may_revise(who: Principal, row: m.Contract) -> bool:
    return who.has("admin") or (
        who.has(*SUBMITTERS) and who.id in (row.owner_id, row.submitted_by_id)
    )


def require_revise(who: Principal, row: m.Contract) -> None:
    if not may_revise(who, row):
        raise Forbidden(
            f"{who.username} may not revise {row.code}: only its owner, its submitter or an admin"
        )


def may_fulfil(who: Principal, row: m.Contract) -> bool:
    return who.has(*FULFILLERS) or who.id in (row.owner_id, row.submitted_by_id)


def require_fulfil(who: Principal, row: m.Contract) -> None:
    if not may_fulfil(who, row):
        raise Forbidden(
            f"{who.username} may not record fulfilment on {row.code}: only its owner, its "
            "submitter, a contract_manager or an admin"
        )


def may_see_all_tasks(who: Principal) -> bool:
    return who.has("admin", "contract_manager")


def require_all_tasks(who: Principal) -> None:
    if not may_see_all_tasks(who):
        raise Forbidden(f"{who.username} may not list every task (admin or contract_manager)")


def may_see_dashboard(who: Principal) -> bool:
    return who.has(*DASHBOARD)


def require_dashboard(who: Principal) -> None:
    if not may_see_dashboard(who):
        raise Forbidden(f"{who.username} may not see the dashboard")


def may_read_outbox(who: Principal) -> bool:
    return who.has(*OUTBOX_READERS)


def require_outbox(who: Principal) -> None:
    if not may_read_outbox(who):
        raise Forbidden(f"{who.username} may not read the alert outbox")


def is_admin(who: Principal) -> bool:
    return who.has("admin")


def require_admin(who: Principal) -> None:
    if not is_admin(who):
        raise Forbidden(f"{who.username} is not an admin")


def require_new_or_revisable(session: Session, who: Principal, code: str, today: dt.date) -> None:
    """A draft naming a stored contract is a revision of it: only for those who may revise.

    A stored contract `who` may not see answers 404, word for word as reading it would:
    a 403 here would confirm to a stranger that the id exists."""
    exists_at_all = session.scalar(select(m.Contract.id).where(m.Contract.code == code))
    if exists_at_all is None:
        return
    require_revise(who, contract_row(session, who, code, today))


class NotVisible(Forbidden):
    """A contract the acting user may not see, or that does not exist (SPEC 4a: the CLI
    answers both the same way, exit 1, as the web answers both 404)."""


def acting_principal(rt: Runtime, username: str) -> Principal:
    """The user a command acts as (`--as`); an unknown or deactivated name is bad input."""
    from engine.services.auth import principal

    with rt.db.reads() as session:
        user = session.scalar(select(m.User).where(m.User.username == username))
        if user is None:
            raise InvalidInput(
                f"--as: user {username!r} does not exist (add it with `contractflow users add`)"
            )
        if not user.active:
            raise InvalidInput(f"--as: user {username!r} is deactivated")
        return principal(user)


def check_visible(rt: Runtime, who: Principal, code: str) -> None:
    """Refuse, as "not found or not visible", a contract `who` may not see."""
    with rt.db.reads() as session:
        try:
            contract_row(session, who, code, rt.today())
        except NotFound:
            raise NotVisible(
                f"contract {code!r}: not found or not visible to {who.username}"
            ) from None


def require_see_all(who: Principal) -> None:
    if not who.has(*SEE_ALL):
        raise Forbidden(
            f"{who.username} may not read every contract ({', '.join(SEE_ALL)}); "
            "name one contract they may see"
        )
