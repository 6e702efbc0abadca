"""Task emails (SPEC section 9) and hand-back emails (section 12), written to the outbox in
the transaction of the change that causes them.

Who is told: everyone who may act on the task at that moment - its assignee, or every
active holder of its role when it has none - and whoever those people delegated to for
today; never the contract's submitter where the stage forbids self-approval. Only users
with an email address whose preference is `immediate` get a message here (`digest` users
read their open tasks in the daily digest, `off` users get none).

Once per (task, user, reason): the outbox key is `task:<task>:<reason>:<user>`, inserted
with ON CONFLICT DO NOTHING, so a repeated reminder run, a second reassignment to the same
person or a retried transaction never sends twice. One row per recipient, because each
recipient's one-click links are their own (signed for that user at send time,
`engine.services.action_links`).

Cost on the approval path: nothing unless the transition opens tasks; then one statement
for the role holders with their delegates, one for the current flags (decisions only;
submit has them in hand), one for the previous revision's terms (revisions only) and one
multi-row INSERT.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from engine.domain.risk import RiskReport
from engine.services.outbox import enqueue_many, message_id_for
from engine.services.runtime import Runtime
from engine.services.transitions import OpenedTask
from engine.services.views import term_changes
from engine.store import models as m

if TYPE_CHECKING:
    from sqlalchemy import Table


def _table(model: type[m.Base]) -> Table:
    return cast("Table", model.__table__)


#: Why a task email goes out.
REASONS = ("opened", "reassigned", "delegated", "last_day")
#: Outbox kinds the prompt sender delivers (the daily alert job delivers the others).
NOTICE_KINDS = ("task_notice", "revise_notice")
#: Decisions that hand a contract back to its owner.
HAND_BACK = frozenset({"request_changes", "reject"})
#: How many changed terms an email lists (the contract page has all of them).
MAX_CHANGES = 20
SUBJECT_MAX = 300


@dataclass(frozen=True)
class Recipient:
    id: int
    username: str
    email: str
    delegated_by: str | None = None  # acts on this task for that colleague


@dataclass(frozen=True)
class TaskRef:
    """A task to tell people about (a new one, or an open one reassigned or delegated)."""

    id: int
    stage: str
    role: str
    due_at: dt.datetime | None
    assignee_id: int | None = None

    @classmethod
    def of(cls, task: OpenedTask | m.Task) -> TaskRef:
        return cls(task.id, task.stage, task.role, task.due_at, getattr(task, "assignee_id", None))


def words(code: str | None) -> str:
    """`legal_review` -> `legal review` (emails are read by people)."""
    return (code or "").replace("_", " ")


# --------------------------------------------------------------------------- content


def flags_of_report(report: RiskReport) -> list[dict[str, str]]:
    return [
        {"severity": f.severity.value, "rule": f.rule, "message": f.message}
        for f in sorted(report.flags, key=lambda f: f.sort_key)
    ]


_F, _E = _table(m.RiskFlag), _table(m.RiskEvaluation)
_FLAGS = (
    select(_F.c.severity, _F.c.rule, _F.c.message)
    .join(_E, _E.c.id == _F.c.evaluation_id)
    .where(_F.c.contract_id == bindparam("cid"), _E.c.current.is_(True))
)


def stored_flags(session: Session, contract_id: int) -> list[dict[str, str]]:
    """The contract's current flags, most severe first."""
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    rows = session.connection().execute(_FLAGS, {"cid": contract_id}).all()
    ordered = sorted(rows, key=lambda r: (rank.get(r[0], 9), r[1]))
    return [{"severity": s, "rule": r, "message": msg} for s, r, msg in ordered]


def stored_changes(session: Session, row: m.Contract) -> list[dict[str, Any]]:
    """What changed from the previous revision to the current one (empty on revision 1)."""
    if row.current_revision <= 1:
        return []
    terms: dict[int, Any] = dict(
        session.execute(
            select(m.ContractRevision.number, m.ContractRevision.terms).where(
                m.ContractRevision.contract_id == row.id,
                m.ContractRevision.number.in_([row.current_revision - 1, row.current_revision]),
            )
        ).all()
    )
    return change_rows(
        terms.get(row.current_revision - 1) or {}, terms.get(row.current_revision) or {}
    )


def change_rows(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"field": c.field, "before": _text(c.before), "after": _text(c.after)}
        for c in term_changes(before, after)[:MAX_CHANGES]
    ]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def summary(
    row: m.Contract,
    *,
    flags: list[dict[str, str]],
    changes: list[dict[str, Any]],
) -> dict[str, Any]:
    """The contract part of every task email (the same for each recipient and task)."""
    return {
        "contract": row.code,
        "title": row.title,
        "counterparty": row.counterparty_name,
        "amount": str(row.amount),
        "currency": row.currency,
        "revision": row.current_revision,
        "max_severity": row.max_severity,
        "flags": flags,
        "changes": changes,
    }


# --------------------------------------------------------------------------- recipients


Person = tuple[int, str, "str | None", str]  # id, username, email, notify preference


_U, _R, _D = _table(m.User), _table(m.UserRole), _table(m.Delegation)
_DU = _U.alias("delegate")
#: Role holders and assignees with whoever they delegated to for the day, in one
#: statement built once (plain Core: it runs on every approval that opens a task, and
#: building it from ORM aliases per call cost more than the database spends on it).
_PEOPLE = (
    select(
        _U.c.id,
        _U.c.username,
        _U.c.email,
        _U.c.notify,
        _R.c.role,
        _DU.c.id,
        _DU.c.username,
        _DU.c.email,
        _DU.c.notify,
    )
    .select_from(_U)
    .outerjoin(_R, and_(_R.c.user_id == _U.c.id, _R.c.role.in_(bindparam("roles", expanding=True))))
    .outerjoin(
        _D,
        and_(
            _D.c.from_user_id == _U.c.id,
            _D.c.starts_on <= bindparam("today"),
            _D.c.ends_on >= bindparam("today"),
        ),
    )
    .outerjoin(_DU, and_(_DU.c.id == _D.c.to_user_id, _DU.c.active.is_(True)))
    .where(
        _U.c.active.is_(True),
        or_(_R.c.role.is_not(None), _U.c.id.in_(bindparam("assignees", expanding=True))),
    )
    .order_by(_U.c.username)
)


def _people(
    session: Session, tasks: Sequence[TaskRef], today: dt.date
) -> tuple[dict[str, list[int]], dict[int, Person], dict[int, list[Person]]]:
    """In one statement: the active holders of the unassigned tasks' roles, the active
    assignees, and everyone they delegated to for `today`. Returns (role -> holder ids,
    id -> person, principal id -> their delegates)."""
    roles = sorted({t.role for t in tasks if t.assignee_id is None})
    assignees = sorted({t.assignee_id for t in tasks if t.assignee_id is not None})
    rows = (
        session.connection()
        .execute(_PEOPLE, {"roles": roles, "assignees": assignees, "today": today})
        .all()
    )
    by_role: dict[str, list[int]] = {}
    by_id: dict[int, Person] = {}
    delegates: dict[int, list[Person]] = {}
    for uid, name, email, notify, role, did, dname, demail, dnotify in rows:
        by_id[uid] = (uid, name, email, notify)
        if role is not None and uid not in by_role.setdefault(role, []):
            by_role[role].append(uid)
        if did is not None:
            found = delegates.setdefault(uid, [])
            if all(p[0] != did for p in found):
                found.append((did, dname, demail, dnotify))
    return by_role, by_id, delegates


def who_may_act(
    session: Session,
    tasks: Sequence[TaskRef],
    today: dt.date,
    *,
    excluded: int | None,
    only_delegates_of: int | None = None,
) -> dict[int, list[Recipient]]:
    """Task id -> who to email about it (see the module docstring). `excluded` is the
    submitter where self-approval is not allowed; `only_delegates_of` limits the result to
    the delegates of one user (a new delegation)."""
    by_role, by_id, delegated = _people(session, tasks, today)
    out: dict[int, list[Recipient]] = {}
    for t in tasks:
        if t.assignee_id is not None:
            ids = [t.assignee_id] if t.assignee_id in by_id else []
        else:
            ids = by_role.get(t.role, [])
        chosen: dict[int, Recipient] = {}
        for pid in ids:
            if pid == excluded:
                continue
            _, name, email, notify = by_id[pid]
            if only_delegates_of is None and email and notify == "immediate":
                chosen.setdefault(pid, Recipient(pid, name, email))
            if only_delegates_of is not None and pid != only_delegates_of:
                continue
            for uid, dname, demail, dnotify in delegated.get(pid, []):
                if uid == excluded or not demail or dnotify != "immediate":
                    continue
                chosen.setdefault(uid, Recipient(uid, dname, demail, delegated_by=name))
        out[t.id] = sorted(chosen.values(), key=lambda p: p.username)
    return out


# --------------------------------------------------------------------------- queueing


def subject_for(reason: str, code: str, stage: str, title: str, delegated_by: str | None) -> str:
    where = f"{code} ({words(stage)})"
    if reason == "reassigned":
        text = f"Assigned to you: {where}: {title}"
    elif reason == "delegated":
        text = f"For {delegated_by or 'a colleague'}, while they are away: {where}: {title}"
    elif reason == "last_day":
        text = f"Last day: {where} is due today: {title}"
    elif delegated_by:
        text = f"Please review {where} for {delegated_by}: {title}"
    else:
        text = f"Please review {where}: {title}"
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"


def queue_task_notices(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    tasks: Sequence[TaskRef],
    reason: str,
    content: dict[str, Any],
    now: dt.datetime,
    *,
    excluded: int | None,
    only_delegates_of: int | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Write one outbox row per (task, recipient) for `reason`; returns how many were new."""
    if not tasks or not rt.settings.task_emails:
        return 0
    recipients = who_may_act(
        session, tasks, rt.today(), excluded=excluded, only_delegates_of=only_delegates_of
    )
    domain = _domain(rt)
    issued = now.isoformat()
    # The contract part is the same for every row: dumped once, each row's own fields
    # spliced after it (one JSON object either way).
    shared = json.dumps({**content, **(extra or {})}, default=str)[:-1]
    rows: list[dict[str, Any]] = []
    for t in tasks:
        due = t.due_at.isoformat() if t.due_at else None
        for person in recipients.get(t.id, []):
            key = f"task:{t.id}:{reason}:{person.id}"
            own = json.dumps(
                {
                    "task": t.id,
                    "stage": t.stage,
                    "role": t.role,
                    "due": due,
                    "reason": reason,
                    "user": person.username,
                    "user_id": person.id,
                    "delegated_by": person.delegated_by,
                    "issued_at": issued,
                }
            )
            rows.append(
                {
                    "key": key,
                    "kind": "task_notice",
                    "level": reason,
                    "contract_id": row.id,
                    "task_id": t.id,
                    "recipients": [person.email],
                    "subject": subject_for(
                        reason, row.code, t.stage, row.title, person.delegated_by
                    ),
                    "payload": f"{shared}, {own[1:]}" if len(shared) > 1 else own,
                    "message_id": message_id_for(key, domain),
                    "created_at": now,
                }
            )
    return enqueue_many(session, rows)


def queue_opened(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    opened: Sequence[OpenedTask],
    now: dt.datetime,
    *,
    submitter_id: int | None,
    self_approval: bool,
    flags: list[dict[str, str]] | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> int:
    """Tell everyone who may act about the tasks a transition just opened."""
    if not opened or not rt.settings.task_emails:
        return 0
    content = summary(
        row,
        flags=stored_flags(session, row.id) if flags is None else flags,
        changes=stored_changes(session, row) if changes is None else changes,
    )
    return queue_task_notices(
        session,
        rt,
        row,
        [TaskRef.of(t) for t in opened],
        "opened",
        content,
        now,
        excluded=None if self_approval else submitter_id,
    )


def queue_for_open_tasks(
    session: Session,
    rt: Runtime,
    tasks: Sequence[m.Task],
    reason: str,
    now: dt.datetime,
    *,
    only_delegates_of: int | None = None,
) -> int:
    """Reassignment, a delegation, a task's last day: open tasks of possibly several
    contracts, each told with its contract's current content."""
    from engine.services.workflows import spec_for

    written = 0
    by_contract: dict[int, list[m.Task]] = {}
    for t in tasks:
        by_contract.setdefault(t.contract_id, []).append(t)
    for contract_id, group in by_contract.items():
        row = session.get(m.Contract, contract_id)
        if row is None or row.status != "active":
            continue
        spec = spec_for(session, row.workflow_id)
        content = summary(
            row, flags=stored_flags(session, row.id), changes=stored_changes(session, row)
        )
        excluded = None if spec.self_approval_allowed(row.stage) else row.submitted_by_id
        written += queue_task_notices(
            session,
            rt,
            row,
            [TaskRef.of(t) for t in group],
            reason,
            content,
            now,
            excluded=excluded,
            only_delegates_of=only_delegates_of,
        )
    return written


def queue_revise_notice(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    task: m.Task,
    action: str,
    reviewer: str,
    comment: str | None,
    now: dt.datetime,
) -> int:
    """After `request_changes` or `reject`: tell the owner and the submitter (SPEC 12)."""
    if not rt.settings.task_emails:
        return 0
    people = session.execute(
        select(m.User.id, m.User.username, m.User.email, m.User.notify).where(
            m.User.id.in_({row.owner_id, row.submitted_by_id}), m.User.active.is_(True)
        )
    ).all()
    verb = "changes requested" if action == "request_changes" else "rejected"
    domain = _domain(rt)
    rows = []
    for uid, name, email, notify in people:
        if not email or notify != "immediate":
            continue
        key = f"revise:{task.id}:{uid}"
        rows.append(
            {
                "key": key,
                "kind": "revise_notice",
                "level": action,
                "contract_id": row.id,
                "task_id": task.id,
                "recipients": [email],
                "subject": _cut(f"Revise {row.code} ({verb} by {reviewer}): {row.title}"),
                "payload": {
                    "contract": row.code,
                    "title": row.title,
                    "counterparty": row.counterparty_name,
                    "amount": str(row.amount),
                    "currency": row.currency,
                    "stage": row.stage,
                    "from_stage": task.stage,
                    "revision": row.current_revision,
                    "decision": verb,
                    "reviewer": reviewer,
                    "comment": comment or "",
                    "user": name,
                    "task": task.id,
                },
                "message_id": message_id_for(key, domain),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
        )
    return enqueue_many(session, rows)


def _cut(text: str) -> str:
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"


def _domain(rt: Runtime) -> str:
    _, _, domain = rt.settings.mail_from.rpartition("@")
    return domain.strip(">").strip() or "contractflow.local"
