"""`python -m flows.serve`: serve the flows on their cron schedules.

Needs a real Prefect server (`PREFECT_API_URL`): a temporary one cannot run schedules.
`flows.stack.PrefectStack` (what `contractflow serve` uses) starts the server and then this
process. Schedules come from settings (cron in `CONTRACTFLOW_TIMEZONE`, default Asia/Shanghai):

- `overdue-alerts/daily`          `CONTRACTFLOW_ALERTS_CRON`      (default `0 7 * * *`)
- `sla-escalations/hourly`        `CONTRACTFLOW_ESCALATIONS_CRON` (default `0 * * * *`)
- `nightly-rescore/nightly`       `CONTRACTFLOW_RESCORE_CRON`     (default `30 2 * * *`)
- `task-digest/daily`             `CONTRACTFLOW_DIGEST_CRON`      (default `0 8 * * *`)
- `task-reminders/daily`          `CONTRACTFLOW_REMINDERS_CRON`   (default `0 6 * * *`)
"""

from __future__ import annotations

import os
import sys
from typing import Any


def deployments(settings: Any) -> list[Any]:
    """The deployments with their schedules (also used by docs/deployment.md's recipe)."""
    from prefect.schedules import Cron

    from flows.alerts import overdue_alerts
    from flows.escalations import sla_escalations
    from flows.notices import task_digest, task_reminders
    from flows.rescore import nightly_rescore

    def at(cron: str) -> list[Any]:  # cron in the business's time zone
        return [Cron(cron, timezone=settings.timezone)]

    return [
        overdue_alerts.to_deployment(name="daily", schedules=at(settings.alerts_cron)),
        sla_escalations.to_deployment(name="hourly", schedules=at(settings.escalations_cron)),
        nightly_rescore.to_deployment(name="nightly", schedules=at(settings.rescore_cron)),
        task_digest.to_deployment(name="daily", schedules=at(settings.digest_cron)),
        task_reminders.to_deployment(name="daily", schedules=at(settings.reminders_cron)),
    ]


def main() -> int:
    from engine.settings import get_settings

    if not os.environ.get("PREFECT_API_URL"):
        sys.stderr.write(
            "flows.serve: PREFECT_API_URL is not set; schedules need a running Prefect server "
            "(start one with `contractflow serve`, or `prefect server start`)\n"
        )
        return 2
    from prefect import serve

    serve(*deployments(get_settings()), print_starting_message=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
