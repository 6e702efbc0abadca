"""One-click actions from a task email (SPEC section 9).

A link is `<base_url>/email-actions/<token>`. The token is signed with itsdangerous (keyed
by `CONTRACTFLOW_SECRET_KEY`, its own salt) over (task, user, action) and the time the
email was written; nothing else can make one, and it is checked against
`CONTRACTFLOW_ACTION_LINK_DAYS`. It is derived, not stored: the sender signs it while
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
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict, Forbidden
from engine.services.runtime import Runtime
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


class _IssuedAt(TimestampSigner):
    """A timestamp signer with a given time: signing uses when the email was written (the
    same email always carries the same link), checking uses the runtime's clock."""

    def __init__(self, *args: Any, at: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at = at

    def get_timestamp(self) -> int:
        return self._at or super().get_timestamp()


def _serializer(rt: Runtime, at: int = 0) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        rt.settings.secret_key.get_secret_value(),
        salt=SALT,
        signer=_IssuedAt,
        signer_kwargs={"at": at},
    )


def make_token(rt: Runtime, task_id: int, user_id: int, action: str, issued: dt.datetime) -> str:
    if action not in ACTIONS:
        raise ValueError(f"not a one-click action: {action}")
    return str(
        _serializer(rt, int(issued.timestamp())).dumps({"t": task_id, "u": user_id, "a": action})
    )


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
    max_age = rt.settings.action_link_days * 86400
    serializer = _serializer(rt, int(rt.clock().timestamp()))  # "now" is the runtime's clock
    try:
        data = serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkRefused(
            403,
            f"this link has expired (links work for {rt.settings.action_link_days} days); "
            "open the task in contractflow instead",
        ) from None
    except BadSignature:
        raise LinkRefused(
            403, "this link is not valid (it was altered or not made by us)"
        ) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("t"), int)
        or not isinstance(data.get("u"), int)
        or data.get("a") not in ACTIONS
    ):
        raise LinkRefused(403, "this link is not valid")
    return Claim(data["t"], data["u"], data["a"], token_hash(token))


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
