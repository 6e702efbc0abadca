"""`notify digest` and `notify reminders`: the daily task-email jobs without Prefect."""

from __future__ import annotations

import typer

from engine.cli.common import DateOpt, FormatOpt, OutputFormat, emit, parse_date, runtime


def register(app: typer.Typer) -> None:
    notify_app = typer.Typer(
        help="Task emails: the daily digest and reminders (docs/alerts.md).",
        no_args_is_help=True,
    )
    notify_app.command("digest")(digest)
    notify_app.command("reminders")(reminders)
    app.add_typer(notify_app, name="notify")


def digest(as_of: DateOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Email each `--notify digest` user their open tasks, overdue first (once a day)."""
    from engine.services.digest import send_digests

    day = parse_date(as_of, "--as-of")
    with runtime() as rt:
        emit(send_digests(rt, day), fmt)


def reminders(fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Email tasks on their last day, and delegates about tasks they now cover (once each)."""
    from engine.services.digest import run_reminders

    with runtime() as rt:
        emit(run_reminders(rt), fmt)
