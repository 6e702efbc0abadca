"""The alert job (overdue obligations, contract expiry, renewal notices) and the operator's view of the outbox.

`run_alerts` = plan (one set-based statement, `engine.services.alert_planning`) + send every
due outbox row (`engine.services.delivery`), including the task escalations the workflow's SLA
scan queued. The CLI (`contractflow alerts ...`), the Prefect flows and the web app's admin
page all call these functions; none of them needs Prefect.

Functions for interfaces:

- `run_alerts(rt, as_of=None) -> {"sent", "skipped_duplicates", "failed", "deferred"}`
- `plan_alerts(rt, as_of=None) -> PlanResult` (planning only; the flow's first task)
- `send_alerts(rt) -> SendResult` (delivery only)
- `list_alerts(rt, status=None, limit=200) -> list[dict]` (newest first)
- `get_alert(rt, alert_id) -> dict`, `retry_alert(rt, alert_id) -> dict`
- `alert_counts(rt) -> {"pending": n, "sent": n, "failed": n}`
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from engine.errors import Conflict, InvalidInput, NotFound
from engine.services.alert_planning import PlanResult, plan_obligation_alerts
from engine.services.delivery import SendResult, mail_domain, send_pending
from engine.services.expiry_planning import plan_contract_alerts
from engine.services.runtime import Runtime
from engine.store import models as m

STATUSES = tuple(m.OUTBOX_STATUSES)


def plan_alerts(rt: Runtime, as_of: dt.date | None = None) -> PlanResult:
    """Queue one outbox row per obligation at its current level, and per contract and
    expiry / renewal-notice level reached (idempotent), in one transaction."""
    day, now, domain = as_of or rt.today(), rt.clock(), mail_domain(rt)
    with rt.db.transaction() as session:
        obligations = plan_obligation_alerts(session, rt.risk_config, day, now=now, domain=domain)
        contracts = plan_contract_alerts(session, rt.risk_config, day, now=now, domain=domain)
    return PlanResult(
        candidates=obligations.candidates + contracts.candidates,
        planned=obligations.planned + contracts.planned,
    )


def send_alerts(rt: Runtime, **options: Any) -> SendResult:
    """Deliver every due outbox row (obligation alerts and task escalations)."""
    return send_pending(rt, **options)


def run_alerts(
    rt: Runtime, as_of: dt.date | None = None, *, force: bool = False, **send_options: Any
) -> dict[str, int]:
    """The alert job: plan for `as_of` (default today), then send.

    `failed` counts the alerts this run recorded as failed, refused for good: exactly those
    `alerts list --status failed` then shows with the server's reply. `deferred` counts the
    alerts still pending because the server deferred them (4xx) or was unreachable: they
    are sent on a later run (`alerts list --status pending` shows them and why).
    A date in the future is refused unless `force` (issue 18 item 9): each obligation gets
    one email per level, ever, so a run "as of" next month sends tomorrow's alerts now -
    with levels (overdue, critical) that are not true yet - and uses up the real ones.
    When the sender's time budget runs out, `stopped_after_seconds` says so.
    """
    return run_alerts_reporting(rt, as_of, force=force, **send_options)[0]


def run_alerts_reporting(
    rt: Runtime, as_of: dt.date | None = None, *, force: bool = False, **send_options: Any
) -> tuple[dict[str, int], str | None]:
    """`run_alerts` plus why the run stopped early when the mail server was unreachable
    (None when it was reached): `alerts run` exits 1 on it so cron monitoring sees it."""
    today = rt.today()
    if as_of is not None and as_of > today and not force:
        raise InvalidInput(
            f"as_of: {as_of} is in the future (today is {today}); alerts for it would go out "
            'now and use up the real ones; pass --force (API: "force": true) to run it anyway'
        )
    plan = plan_alerts(rt, as_of)
    sent = send_alerts(rt, **send_options)
    result = {
        "sent": sent.sent,
        "skipped_duplicates": plan.skipped_duplicates,
        "failed": sent.failed,
        "deferred": sent.deferred,
    }
    if sent.budget_used_up is not None:
        result["stopped_after_seconds"] = sent.budget_used_up
    return result, sent.unavailable


def view(row: m.OutboxMessage) -> dict[str, Any]:
    """An outbox row as commands and the web app show it."""
    payload = row.payload or {}
    return {
        "id": row.id,
        "key": row.key,
        "kind": row.kind,
        "level": row.level,
        "contract": payload.get("contract"),
        "obligation": payload.get("obligation"),
        "task": row.task_id,
        "recipients": list(row.recipients or []),
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "message_id": row.message_id,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at,
        "sent_at": row.sent_at,
    }


def list_alerts(
    rt: Runtime, status: str | None = None, limit: int = 200, offset: int = 0
) -> list[dict[str, Any]]:
    """Outbox rows, newest first, optionally of one status (`offset` skips that many)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"--status: {status!r} is not one of {', '.join(STATUSES)}")
    if limit < 1:
        raise InvalidInput("--limit: must be at least 1")
    with rt.db.sessions() as session:
        query = (
            select(m.OutboxMessage).order_by(m.OutboxMessage.id.desc()).limit(limit).offset(offset)
        )
        if status is not None:
            query = query.where(m.OutboxMessage.status == status)
        return [view(r) for r in session.scalars(query)]


def alert_counts(rt: Runtime) -> dict[str, int]:
    with rt.db.sessions() as session:
        rows = session.execute(
            select(m.OutboxMessage.status, func.count()).group_by(m.OutboxMessage.status)
        ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def get_alert(rt: Runtime, alert_id: int) -> dict[str, Any]:
    with rt.db.sessions() as session:
        row = session.get(m.OutboxMessage, alert_id)
        if row is None:
            raise NotFound(f"alert {alert_id} does not exist (see `contractflow alerts list`)")
        return view(row)


def retry_alert(rt: Runtime, alert_id: int) -> dict[str, Any]:
    """Put a failed alert back in the queue; the next run sends it (same Message-ID)."""
    with rt.db.transaction() as session:
        row = session.get(m.OutboxMessage, alert_id, with_for_update=True)
        if row is None:
            raise NotFound(f"alert {alert_id} does not exist (see `contractflow alerts list`)")
        if row.status != "failed":
            raise Conflict(f"alert {alert_id} is {row.status}, not failed: nothing to retry")
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = None
        session.flush()
        return view(row)
