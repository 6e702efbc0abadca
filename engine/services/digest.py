"""The daily task digest and task reminders (issue 13).

- `send_digests`: one email per user whose preference is `digest` (and who has an email
  address and open work): their hand-backs, then their open tasks, overdue first (the
  order of `contractflow tasks`), at most `DIGEST_MAX` lines. The outbox key
  `digest:<user>:<date>` makes it once a day however often the job runs.
- `plan_reminders`: a task's last day (its due date is today) and delegations in force
  today, each emailed once per (task, user, reason) through `task_notices`. Both are
  idempotent; the `task-digest` and `task-reminders` flows run them daily.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from engine.services.delivery import mail_domain, send_pending
from engine.services.outbox import enqueue_many, message_id_for
from engine.services.runtime import Runtime
from engine.services.task_notices import NOTICE_KINDS, queue_for_open_tasks
from engine.store import models as m

#: Tasks listed in one digest (the rest is counted; `contractflow tasks` pages through it).
DIGEST_MAX = 50


def queue_digests(rt: Runtime, as_of: dt.date | None = None) -> int:
    """Write today's digest rows; returns how many users get one."""
    from engine.services.views import list_tasks

    day = as_of or rt.today()
    now = rt.clock()
    with rt.db.reads() as session:
        people = session.execute(
            select(m.User.id, m.User.username, m.User.email).where(
                m.User.notify == "digest", m.User.active.is_(True), m.User.email.is_not(None)
            )
        ).all()
    rows: list[dict[str, Any]] = []
    domain = mail_domain(rt)
    for uid, username, email in people:
        tasks = list_tasks(rt, username, limit=DIGEST_MAX + 1)
        if not tasks:
            continue
        more = max(len(tasks) - DIGEST_MAX, 0)
        tasks = tasks[:DIGEST_MAX]
        overdue = sum(1 for t in tasks if t.overdue)
        key = f"digest:{uid}:{day.isoformat()}"
        lines = [
            {
                "contract": t.contract,
                "title": t.contract_title,
                "stage": "revise" if t.kind == "revise" else t.stage,
                "role": t.summary if t.kind == "revise" else t.role,
                "due": t.due.isoformat() if t.due else None,
                "overdue": t.overdue,
                "kind": t.kind,
                "task": t.id,
                "on_behalf_of": None,
            }
            for t in tasks
        ]
        rows.append(
            {
                "key": key,
                "kind": "task_digest",
                "level": "daily",
                "recipients": [email],
                "subject": f"Your open tasks on {day.isoformat()}: {len(tasks) + more}"
                + (f", {overdue} overdue" if overdue else ""),
                "payload": {
                    "user": username,
                    "as_of": day.isoformat(),
                    "tasks": lines,
                    "overdue": overdue,
                    "more": more,
                },
                "message_id": message_id_for(key, domain),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
        )
    if not rows:
        return 0
    with rt.db.transaction() as session:
        already = set(
            session.scalars(
                select(m.OutboxMessage.key).where(m.OutboxMessage.key.in_([r["key"] for r in rows]))
            )
        )
        fresh = [r for r in rows if r["key"] not in already]
        enqueue_many(session, fresh)
    return len(fresh)


def send_digests(rt: Runtime, as_of: dt.date | None = None) -> dict[str, int]:
    """`contractflow notify digest`: queue today's digests, then send them."""
    queued = queue_digests(rt, as_of)
    sent = send_pending(rt, kinds=("task_digest",))
    return {"queued": queued, "sent": sent.sent, "failed": sent.failed + sent.deferred}


def plan_reminders(rt: Runtime, now: dt.datetime | None = None) -> int:
    """Queue last-day and delegation emails due now; returns how many rows were offered."""
    now = now or rt.clock()
    today = now.date()
    start = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    written = 0
    with rt.db.transaction() as session:
        last_day = list(
            session.scalars(
                select(m.Task).where(
                    m.Task.status == "open",
                    m.Task.due_at >= start,
                    m.Task.due_at < start + dt.timedelta(days=1),
                )
            )
        )
        written += queue_for_open_tasks(session, rt, last_day, "last_day", now)
        delegations = session.execute(
            select(m.Delegation.from_user_id).where(
                m.Delegation.starts_on <= today, m.Delegation.ends_on >= today
            )
        ).all()
        from engine.services.delegation import open_tasks_of

        for (giver,) in sorted(set(delegations)):
            roles = list(
                session.scalars(select(m.UserRole.role).where(m.UserRole.user_id == giver))
            )
            written += queue_for_open_tasks(
                session,
                rt,
                open_tasks_of(session, giver, roles),
                "delegated",
                now,
                only_delegates_of=giver,
            )
    return written


def run_reminders(rt: Runtime) -> dict[str, int]:
    """`contractflow notify reminders`: plan, then send every due task email."""
    planned = plan_reminders(rt)
    sent = send_pending(rt, kinds=NOTICE_KINDS)
    return {"planned": planned, "sent": sent.sent, "failed": sent.failed + sent.deferred}
