"""One-click actions from a task email (SPEC section 9).

A link is `<base_url>/email-actions/<token>`. The token is signed with itsdangerous (an
HMAC-SHA256 `Signer` keyed by the session key - `CONTRACTFLOW_SECRET_KEY`, else the data folder's
`session.key` - with its own salt) over (task, user,
action) and the time the email was written; nothing else can make one, and its age is
checked against `CONTRACTFLOW_ACTION_LINK_DAYS` by the runtime's clock. It is derived, not stored: the sender signs it while
rendering the email, and a resent email (after a crash) carries the same link. When a link
is used, only the SHA-256 of its token is stored (`action_link_uses`, unique): that is what
makes it work once, even when two clicks race.

Opening a link (GET) never acts: `inspect` says what it would do or why it cannot. Acting
(POST) goes through `use`, which re-checks everything at that moment (the user still
active, the task still open and theirs to act on: role, assignment, delegation, no
self-approval - the same checks as `contractflow act`, by calling the same use case) and
records the use in the same transaction as the decision. The audit event says
`channel: email`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, Signer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict, Forbidden
from engine.services.runtime import Runtime
from engine.services.sessions import session_secret
from engine.store import models as m

SALT = "contractflow.email-action"
#: What a link may do, and the words its page uses.
ACTIONS = {"approve": "Approve", "request_changes": "Request changes"}


class LinkRefused(Exception):
    """A link that cannot act; `status` is 403 (forged, expired, not yours) or 409 (used,
    task closed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@lru_cache(maxsize=4)
def _signer(secret: str) -> Signer:
    """One signer per key (its key derivation is done once, not per email)."""
    return Signer(secret, salt=SALT, sep=".", digest_method=hashlib.sha256)


def make_token(rt: Runtime, task_id: int, user_id: int, action: str, issued: dt.datetime) -> str:
    """`<task>.<user>.<action>.<issued unix time>.<HMAC-SHA256>`: short, URL-safe, and the
    same for the same email (signed with the time it was written, not now)."""
    if action not in ACTIONS:
        raise ValueError(f"not a one-click action: {action}")
    value = f"{task_id}.{user_id}.{action}.{int(issued.timestamp())}"
    signed = _signer(session_secret(rt.settings)).sign(value)
    return signed.decode() if isinstance(signed, bytes) else str(signed)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def links_for(rt: Runtime, payload: dict[str, Any]) -> dict[str, str]:
    """The one-click links of a task email (none without `CONTRACTFLOW_BASE_URL`)."""
    base = rt.settings.base_url
    if not base or "user_id" not in payload or "task" not in payload:
        return {}
    issued = dt.datetime.fromisoformat(str(payload["issued_at"]))
    root = base.rstrip("/")
    return {
        action: f"{root}/email-actions/"
        f"{make_token(rt, int(payload['task']), int(payload['user_id']), action, issued)}"
        for action in ACTIONS
    }


@dataclass(frozen=True)
class Claim:
    task_id: int
    user_id: int
    action: str
    token_hash: str


def read_token(rt: Runtime, token: str) -> Claim:
    """The signed content of a link, or `LinkRefused(403)` saying why not."""
    try:
        value = _signer(session_secret(rt.settings)).unsign(token)
    except BadSignature:
        raise LinkRefused(
            403, "this link is not valid (it was altered or not made by us)"
        ) from None
    parts = (value.decode() if isinstance(value, bytes) else str(value)).split(".")
    if (
        len(parts) != 4
        or not parts[0].isdigit()
        or not parts[1].isdigit()
        or parts[2] not in ACTIONS
        or not parts[3].isdigit()
    ):
        raise LinkRefused(403, "this link is not valid")
    age = rt.clock().timestamp() - int(parts[3])
    if age > rt.settings.action_link_days * 86400 or age < -300:
        raise LinkRefused(
            403,
            f"this link has expired (links work for {rt.settings.action_link_days} days); "
            "open the task in contractflow instead",
        )
    return Claim(int(parts[0]), int(parts[1]), parts[2], token_hash(token))


@dataclass(frozen=True)
class LinkView:
    """What the confirmation page shows."""

    token: str
    action: str
    action_label: str
    username: str
    task: int
    contract: str
    title: str
    counterparty: str
    amount: Any
    currency: str
    stage: str
    role: str
    due: dt.datetime | None
    max_severity: str
    flags: list[dict[str, str]]


def inspect(rt: Runtime, token: str) -> LinkView:
    """What a link would do, or `LinkRefused` saying why it cannot (GET: reads only)."""
    from engine.services.task_notices import stored_flags

    claim = read_token(rt, token)
    with rt.db.reads() as session:
        user, task, row = _load(session, claim)
        if session.scalar(
            select(m.ActionLinkUse.id).where(m.ActionLinkUse.token_hash == claim.token_hash)
        ):
            raise LinkRefused(409, "this link has already been used; each link works once")
        _check_open(task, row)
        flags = stored_flags(session, row.id)
        return LinkView(
            token=token,
            action=claim.action,
            action_label=ACTIONS[claim.action],
            username=user.username,
            task=task.id,
            contract=row.code,
            title=row.title,
            counterparty=row.counterparty_name,
            amount=row.amount,
            currency=row.currency,
            stage=row.stage,
            role=task.role,
            due=task.due_at,
            max_severity=row.max_severity,
            flags=flags,
        )


def _load(session: Any, claim: Claim) -> tuple[m.User, m.Task, m.Contract]:
    user = session.get(m.User, claim.user_id)
    if user is None or not user.active:
        raise LinkRefused(403, "the person this link was sent to may no longer act in contractflow")
    task = session.get(m.Task, claim.task_id)
    if task is None:
        raise LinkRefused(409, "the task of this link no longer exists")
    row = session.get(m.Contract, task.contract_id)
    assert row is not None
    return user, task, row


def _check_open(task: m.Task, row: m.Contract) -> None:
    if task.status != "open":
        raise LinkRefused(
            409, f"task {task.id} of {row.code} is already {task.status.replace('_', ' ')}"
        )
    if task.stage != row.stage or task.revision != row.current_revision:
        raise LinkRefused(409, f"{row.code} has moved on since this email was sent")
    if row.status != "active":
        raise LinkRefused(409, f"{row.code} is {row.status}")


def use(rt: Runtime, token: str, comment: str | None) -> tuple[str, str]:
    """Act on a link (POST): re-check, decide as the emailed user, mark the link used - the
    decision and the use in one transaction. Returns (contract id, new stage)."""
    from engine.services.decisions import decide_by_link

    claim = read_token(rt, token)
    with rt.db.reads() as session:
        user, task, row = _load(session, claim)
        _check_open(task, row)
        username = user.username
    try:
        outcome = decide_by_link(
            rt,
            claim.task_id,
            claim.action,
            username,
            comment,
            use=m.ActionLinkUse(
                token_hash=claim.token_hash,
                task_id=claim.task_id,
                user_id=claim.user_id,
                action=claim.action,
                used_at=rt.clock(),
            ),
        )
    except IntegrityError:
        raise LinkRefused(409, "this link has already been used; each link works once") from None
    except Forbidden as exc:
        raise LinkRefused(403, " ".join(exc.lines())) from None
    except Conflict as exc:
        text = " ".join(exc.lines())
        if "already recorded" in text:
            text = "this link has already been used; each link works once"
        raise LinkRefused(409, text) from None
    return outcome.contract, outcome.stage
