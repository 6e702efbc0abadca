"""`overdue-alerts`: plan the day's obligation alerts, then deliver the outbox.

Two coarse tasks, never one per obligation or per email (a Prefect task run costs ~30 ms of
client and server time; planning is one SQL statement and sending one SMTP connection).
Exactly-once is the outbox's unique key, so a retried task cannot send twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task

from flows.runtime import open_runtime


@task(name="plan-alerts", retries=2, retry_delay_seconds=30)
def plan_alerts_task(as_of: dt.date | None = None) -> dict[str, Any]:
    from engine.services.alerts import plan_alerts

    with open_runtime() as rt:
        day = as_of or rt.today()
        plan = plan_alerts(rt, day)
    get_run_logger().info(
        "planned %d new alert(s) for %s; %d obligation(s) already alerted at their level",
        plan.planned,
        day,
        plan.skipped_duplicates,
    )
    return {
        "as_of": day.isoformat(),
        "planned": plan.planned,
        "skipped_duplicates": plan.skipped_duplicates,
    }


@task(name="send-outbox", retries=2, retry_delay_seconds=[30, 120])
def send_outbox_task(kinds: tuple[str, ...] | None = None) -> dict[str, int]:
    """Deliver due outbox rows. A mail server that cannot be reached fails the task (Prefect
    retries it); the rows stay pending either way, so nothing is lost."""
    from engine.services.delivery import send_pending

    logger = get_run_logger()
    with open_runtime() as rt:
        result = send_pending(rt, kinds=kinds)
    logger.info("sent %d, failed %d, deferred %d", result.sent, result.failed, result.deferred)
    if result.unavailable:
        raise RuntimeError(f"{result.unavailable} (alerts stay queued)")
    return result.as_dict()


@flow(name="overdue-alerts")
def overdue_alerts(as_of: dt.date | None = None) -> dict[str, int]:
    """Email owners (and managers, when critical) about obligations due soon or overdue."""
    plan = plan_alerts_task(as_of)
    sent = send_outbox_task()
    return {
        "sent": sent["sent"],
        "skipped_duplicates": plan["skipped_duplicates"],
        "failed": sent["failed"],  # refused for good: what `alerts list --status failed` shows
        "deferred": sent["deferred"],  # still pending, sent on a later run
    }
