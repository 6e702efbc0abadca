"""`sla-escalations`: escalate approval tasks past their SLA, then email the escalations.

The workflow's service does the escalating (one transaction per task: `escalated_at`, audit
event, outbox row); this flow only schedules it and delivers the `task_escalation` rows.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from flows.alerts import send_outbox_task
from flows.runtime import open_runtime


@task(name="escalate-overdue-tasks", retries=2, retry_delay_seconds=30)
def escalate_task() -> int:
    from engine.services.sla import escalate_overdue_tasks

    with open_runtime() as rt:
        escalated = escalate_overdue_tasks(rt, rt.clock())
    get_run_logger().info("escalated %d task(s) past their SLA", escalated)
    return escalated


@flow(name="sla-escalations")
def sla_escalations() -> dict[str, int]:
    escalated = escalate_task()
    sent = send_outbox_task(kinds=("task_escalation",))
    return {"escalated": escalated, **sent}
