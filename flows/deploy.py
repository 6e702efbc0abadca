"""`python -m flows.deploy --pool NAME`: register the flows as deployments on a work pool.

For more than one machine (docs/deployment.md): a Prefect server backed by PostgreSQL, a
`process` work pool, and `prefect worker start --pool NAME --install-policy never` on every
machine that has this product installed. Each deployment keeps its cron schedule from
settings; the code is loaded from this installation's folder on the worker (the same path on
every machine), so nothing is built or pushed.

Needs `PREFECT_API_URL`. Creates the work pool (type `process`) when it does not exist.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

#: name -> (entrypoint, settings attribute holding its cron)
FLOWS: dict[str, tuple[str, str]] = {
    "overdue-alerts": ("flows/alerts.py:overdue_alerts", "alerts_cron"),
    "sla-escalations": ("flows/escalations.py:sla_escalations", "escalations_cron"),
    "nightly-rescore": ("flows/rescore.py:nightly_rescore", "rescore_cron"),
    "task-digest": ("flows/notices.py:task_digest", "digest_cron"),
    "task-reminders": ("flows/notices.py:task_reminders", "reminders_cron"),
}


def ensure_pool(name: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))


def register(pool: str, name: str, settings: Any, *, schedules: bool = True) -> list[str]:
    """Register every flow as deployment `NAME` on `pool`; returns `flow/deployment` names."""
    from prefect import Flow
    from prefect.schedules import Cron

    from engine.settings import PROJECT_ROOT

    done = []
    for flow_name, (entrypoint, cron_attr) in FLOWS.items():
        flow: Any = Flow.from_source(source=str(PROJECT_ROOT), entrypoint=entrypoint)
        flow.deploy(
            name=name,
            work_pool_name=pool,
            schedules=[Cron(getattr(settings, cron_attr), timezone=settings.timezone)]
            if schedules
            else None,
            build=False,
            push=False,
            # One active run per flow: retries of a slow run must not pile up behind it.
            concurrency_limit=1,
            print_next_steps=False,
        )
        done.append(f"{flow_name}/{name}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__)
    parser.add_argument("--pool", required=True, help="work pool name (created if missing)")
    parser.add_argument("--name", default="production", help="deployment name")
    parser.add_argument(
        "--no-schedules", action="store_true", help="register without cron schedules"
    )
    args = parser.parse_args(argv)
    if not os.environ.get("PREFECT_API_URL"):
        sys.stderr.write("flows.deploy: set PREFECT_API_URL to the Prefect server's API\n")
        return 2
    from engine.settings import get_settings

    ensure_pool(args.pool)
    for name in register(args.pool, args.name, get_settings(), schedules=not args.no_schedules):
        sys.stdout.write(f"deployed {name} on work pool {args.pool}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
