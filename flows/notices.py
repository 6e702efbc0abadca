"""`task-digest` and `task-reminders`: the daily task-email jobs (issue 13).

Each is one coarse task around a service (`engine.services.digest`); the outbox keys make a
retried or repeated run send nothing twice.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task

from flows.runtime import open_runtime


@task(name="send-digests", retries=2, retry_delay_seconds=30)
def digest_task(as_of: dt.date | None = None) -> dict[str, int]:
    from engine.services.digest import send_digests

    with open_runtime() as rt:
        result = send_digests(rt, as_of)
    get_run_logger().info("digests: %s", result)
    return result


@task(name="task-reminders", retries=2, retry_delay_seconds=30)
def reminders_task() -> dict[str, int]:
    from engine.services.digest import run_reminders

    with open_runtime() as rt:
        result = run_reminders(rt)
    get_run_logger().info("reminders: %s", result)
    return result


@flow(name="task-digest")
def task_digest(as_of: dt.date | None = None) -> dict[str, int]:
    """One email per `digest` user with their open tasks, overdue first."""
    return digest_task(as_of)


@flow(name="task-reminders")
def task_reminders() -> dict[str, int]:
    """Tasks on their last day; delegations in force today."""
    return reminders_task()
