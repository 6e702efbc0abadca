"""`notify digest` and `notify reminders`: the daily task-email jobs without Prefect."""

from __future__ import annotations

from typing import Any

import typer

from engine.cli.common import (
    AsUserOpt,
    DateOpt,
    FormatOpt,
    OutputFormat,
    acting_as,
    emit,
    parse_date,
    runtime,
)


def register(app: typer.Typer) -> None:
    notify_app = typer.Typer(
        help="Task emails: the daily digest and reminders (docs/alerts.md).",
        no_args_is_help=True,
    )
    notify_app.command("digest")(digest)
    notify_app.command("reminders")(reminders)
    app.add_typer(notify_app, name="notify")


def _require_admin(rt: Any, as_user: str | None) -> None:
    """With --as, the web app's rule for running jobs: an admin (as `alerts run`)."""
    who = acting_as(rt, as_user)
    if who is not None:
        from engine.services.access import require_admin

        require_admin(who)


def digest(
    as_of: DateOpt = None, as_user: AsUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE
) -> None:
    """Email each `--notify digest` user their open tasks, overdue first (once a day)."""
    from engine.services.digest import send_digests

    day = parse_date(as_of, "--as-of")
    with runtime() as rt:
        _require_admin(rt, as_user)
        emit(send_digests(rt, day), fmt)


def reminders(as_user: AsUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Email tasks on their last day, and delegates about tasks they now cover (once each)."""
    from engine.services.digest import run_reminders

    with runtime() as rt:
        _require_admin(rt, as_user)
        emit(run_reminders(rt), fmt)
