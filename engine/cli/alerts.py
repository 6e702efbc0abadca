"""`alerts run`, `alerts list`, `alerts retry`: the alert job without Prefect, and the outbox."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from engine.cli.common import (
    AsUserOpt,
    DateOpt,
    FormatOpt,
    OutputFormat,
    acting_as,
    emit,
    fail,
    parse_date,
    row_id,
    runtime,
    safe_text,
)
from engine.domain.wording import words


class AlertStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def print_alerts(rows: list[dict[str, Any]]) -> None:
    """One block per alert: wide enough for the server's reply, which is what operators read."""
    if not rows:
        typer.echo("no alerts")
        return
    from engine.settings import get_settings

    zone = get_settings().zone
    for row in rows:
        about = row["contract"] or ""
        if row["obligation"]:
            about += f" {row['obligation']}"
        elif row["task"]:
            about += f" task {row['task']}"
        when = (row["sent_at"] or row["created_at"]).astimezone(zone)
        typer.echo(
            f"#{row['id']}  {row['status']:<9}  {words(row['level']):<22}  {safe_text(about)}  "
            f"(attempts {row['attempts']}, {when:%Y-%m-%d %H:%M} {when.tzname()})"
        )
        typer.echo(f"    to: {safe_text(', '.join(row['recipients'])) or '(nobody)'}")
        typer.echo(f"    subject: {safe_text(row['subject'])}")
        if row["last_error"]:
            typer.echo(f"    reply: {safe_text(row['last_error'])}")


def register(app: typer.Typer) -> None:
    alerts_app = typer.Typer(
        help="Overdue-obligation alerts and SLA escalation emails (the outbox).",
        no_args_is_help=True,
    )
    alerts_app.command("run")(run)
    alerts_app.command("list")(list_)
    alerts_app.command("retry")(retry)
    app.add_typer(alerts_app, name="alerts")


def run(
    as_of: DateOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="allow an --as-of in the future (sends early)")
    ] = False,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Plan alerts for obligations due soon or overdue on DATE (default today) and send every
    pending email now. Safe to repeat: each obligation gets one email per level, ever.
    A future DATE needs --force: its alerts would go out now and use up the real ones.
    Exits 1 when the mail server could not be reached (the alerts stay pending)."""
    from engine.services.alerts import run_alerts_reporting

    day = parse_date(as_of, "--as-of")
    with runtime() as rt:
        _require(rt, as_user, "require_admin")
        result, unreachable = run_alerts_reporting(rt, day, force=force)
    emit(result, fmt)
    if unreachable:
        fail(
            f"{unreachable}; {result.get('deferred', 0)} alert(s) stay pending and go out on a later "
            "run (`contractflow alerts list --status pending` shows the reason)",
            code=1,
        )
    if "stopped_after_seconds" in result:
        typer.echo(
            f"note: stopped after the time budget of {result['stopped_after_seconds']} s "
            "(CONTRACTFLOW_ALERTS_TIME_BUDGET_SECONDS); the alerts not tried stay pending "
            "for the next run",
            err=True,
        )
    if result["failed"] and "stopped_after_seconds" not in result:
        typer.echo(
            f"note: {result['failed']} alert(s) refused by the mail server; see "
            "`contractflow alerts list --status failed` for the replies, and "
            "`contractflow alerts retry ID` after fixing",
            err=True,
        )
    if result.get("deferred"):
        typer.echo(
            f"note: {result['deferred']} alert(s) deferred (server busy or unreachable); they "
            "stay pending and go out on a later run (`contractflow alerts list --status pending`)",
            err=True,
        )


def list_(
    status: Annotated[
        AlertStatus | None,
        typer.Option(help="only alerts in this state (default: all)", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 200,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Alerts in the outbox with their status and, for failures, the server's reply."""
    from engine.services.alerts import list_alerts

    with runtime() as rt:
        _require(rt, as_user, "require_outbox")
        rows: list[dict[str, Any]] = list_alerts(rt, status.value if status else None, limit)
    emit(rows, fmt, table=print_alerts)


def retry(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="an alert id from `alerts list`")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Put a failed alert back in the queue; the next `alerts run` sends it."""
    from engine.services.alerts import retry_alert

    row_id(alert_id, "alert")
    with runtime() as rt:
        _require(rt, as_user, "require_admin")
        emit(retry_alert(rt, alert_id), fmt)


def _require(rt: Any, as_user: str | None, check: str) -> None:
    """With --as, the web app's rule for the same action (engine.services.access)."""
    who = acting_as(rt, as_user)
    if who is not None:
        from engine.services import access

        getattr(access, check)(who)
