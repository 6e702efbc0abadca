"""`alerts run`, `alerts list`, `alerts retry`: the alert job without Prefect, and the outbox."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from engine.cli.common import DateOpt, FormatOpt, OutputFormat, emit, parse_date, runtime
from engine.domain.wording import words


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
            f"#{row['id']}  {row['status']:<9}  {words(row['level']):<22}  {about}  "
            f"(attempts {row['attempts']}, {when:%Y-%m-%d %H:%M} {when.tzname()})"
        )
        typer.echo(f"    to: {', '.join(row['recipients']) or '(nobody)'}")
        typer.echo(f"    subject: {row['subject']}")
        if row["last_error"]:
            typer.echo(f"    reply: {row['last_error']}")


def register(app: typer.Typer) -> None:
    alerts_app = typer.Typer(
        help="Overdue-obligation alerts and SLA escalation emails (the outbox).",
        no_args_is_help=True,
    )
    alerts_app.command("run")(run)
    alerts_app.command("list")(list_)
    alerts_app.command("retry")(retry)
    app.add_typer(alerts_app, name="alerts")


def run(as_of: DateOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Plan alerts for obligations due soon or overdue on DATE (default today) and send every
    pending email now. Safe to repeat: each obligation gets one email per level, ever."""
    from engine.services.alerts import run_alerts

    day = parse_date(as_of, "--as-of")
    with runtime() as rt:
        result = run_alerts(rt, day)
    emit(result, fmt)
    if result["failed"]:
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
        str | None,
        typer.Option(help="pending, sent or failed (default: all)", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 200,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Alerts in the outbox with their status and, for failures, the server's reply."""
    from engine.services.alerts import list_alerts

    with runtime() as rt:
        rows: list[dict[str, Any]] = list_alerts(rt, status, limit)
    emit(rows, fmt, table=print_alerts)


def retry(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="an alert id from `alerts list`")],
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Put a failed alert back in the queue; the next `alerts run` sends it."""
    from engine.services.alerts import retry_alert

    with runtime() as rt:
        emit(retry_alert(rt, alert_id), fmt)
