"""SLA escalation: open tasks past their due time go to their `escalate_to` role, once.

Each escalation is one transaction: the task's `escalated_at`, an audit event and an
outbox email (kind `task_escalation`, key `task:ID:escalation`) to every active holder of
the `escalate_to` role with an email address. The alerts sender delivers outbox rows; the
Prefect flow in `flows/` calls `escalate_overdue_tasks` on a schedule.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.services import audit
from engine.services.outbox import enqueue
from engine.services.runtime import Runtime
from engine.services.users import users_with_role
from engine.store import models as m


def overdue_task_ids(rt: Runtime, now: dt.datetime) -> list[int]:
    """Open, not yet escalated tasks past due that have someone to escalate to."""
    with rt.db.sessions() as session:
        return list(
            session.scalars(
                select(m.Task.id)
                .where(
                    m.Task.status == "open",
                    m.Task.due_at < now,
                    m.Task.escalated_at.is_(None),
                    m.Task.escalate_to.is_not(None),
                )
                .order_by(m.Task.due_at, m.Task.id)
            )
        )


def escalate_overdue_tasks(rt: Runtime, now: dt.datetime | None = None) -> int:
    """Escalate every overdue task once; returns how many were escalated in this run.

    A task someone acts on at the same moment is skipped (its contract changed under us)
    and looked at again on the next run.
    """
    now = now or rt.clock()
    done = 0
    for task_id in overdue_task_ids(rt, now):
        try:
            if _escalate_one(rt, task_id, now):
                done += 1
        except StaleDataError:
            continue
    return done


def _escalate_one(rt: Runtime, task_id: int, now: dt.datetime) -> bool:
    with rt.db.transaction() as session:
        task = session.get(m.Task, task_id)
        if (
            task is None
            or task.status != "open"
            or task.escalated_at is not None
            or task.escalate_to is None
        ):
            return False
        row = session.get(m.Contract, task.contract_id)
        assert row is not None
        row.updated_at = now  # version bump: serialises with people acting on the contract
        session.flush()
        task.escalated_at = now
        holders = users_with_role(session, task.escalate_to)
        recipients = sorted({u.email for u in holders if u.email})
        due = task.due_at.isoformat() if task.due_at else None
        audit.append(
            session,
            row.id,
            "escalate",
            at=now,
            task_id=task.id,
            from_stage=row.stage,
            to_stage=row.stage,
            revision=row.current_revision,
            details={
                "role": task.role,
                "escalate_to": task.escalate_to,
                "due": due,
                "recipients": recipients,
            },
        )
        if not recipients:
            return True  # nobody to tell (no holder with an email): the event records it
        enqueue(
            session,
            key=f"task:{task.id}:escalation",
            kind="task_escalation",
            level="sla",
            recipients=recipients,
            subject=f"{row.code}: task {task.id} ({task.role}, {task.stage}) is overdue",
            payload={
                "contract": row.code,
                "title": row.title,
                "task": task.id,
                "stage": task.stage,
                "role": task.role,
                "due": due,
                "escalate_to": task.escalate_to,
                "escalated_at": now.isoformat(),
                # what the email says in words: the contract, and who holds the task
                "counterparty": row.counterparty_name,
                "amount": str(row.amount),
                "currency": row.currency,
                "opened_at": task.created_at.isoformat() if task.created_at else None,
                "held_by": _holders_of(session, task),
            },
            contract_id=row.id,
            task_id=task.id,
        )
        return True


def _holders_of(session: Session, task: m.Task) -> list[str]:
    """Who may act on the task now, by the names people read: its assignee, else every
    active holder of its role."""
    if task.assignee_id is not None:
        user = session.get(m.User, task.assignee_id)
        return [user.display_name or user.username] if user else []
    return sorted(u.display_name or u.username for u in users_with_role(session, task.role))
