"""`init`, `db upgrade` / `db current` and `config show`."""

from __future__ import annotations

from typing import Any

import typer

from engine.cli.common import FormatOpt, NoUserOpt, OutputFormat, emit, runtime


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    config_app = typer.Typer(help="Effective settings.", no_args_is_help=True)
    config_app.command("show")(config_show)
    app.add_typer(config_app, name="config")
    db_app = typer.Typer(help="The database schema (migrations alone).", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    db_app.command("current")(db_current)
    app.add_typer(db_app, name="db")


def init(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Create or upgrade the database and load config/workflows and rules/ (safe to re-run)."""
    from engine.services.setup import initialise

    with runtime() as rt:
        result = initialise(rt)
    emit(result, fmt, table=_print_init)


def _print_init(result: dict[str, Any]) -> None:
    """What `init` did, in sentences (JSON keeps the structure)."""
    typer.echo(f"database: {result.get('database')}")
    for wf in result.get("workflows", []):
        typer.echo(f"workflow {wf['workflow']} version {wf['version']}: {wf['status']}")
    rules = result.get("rules")
    if rules is not None:
        typer.echo(f"rules: {rules} loaded")
    for note in result.get("rule_notes", []):
        typer.echo(f"note: {note}")
    for key, value in result.items():
        if key not in ("database", "workflows", "rules", "rule_notes"):
            typer.echo(f"{key.replace('_', ' ')}: {value}")


def config_show(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Print the effective settings (environment, .env and config/risk.yaml), secrets masked."""
    from engine.services.config import effective_settings

    with runtime() as rt:
        emit(effective_settings(rt), fmt)


def db_upgrade(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Apply the schema migrations only (no roles, workflows or rules are loaded); safe to
    re-run. For deploys that migrate before starting the new code; `init` does this too."""
    from engine.store import migrate

    with runtime() as rt:
        before = migrate.current_revision(rt.db)
        after = migrate.upgrade(rt.db)
        emit({"database": rt.db.redacted_url(), "from": before, "to": after}, fmt)


def db_current(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """The schema revision of the database and the one this code expects (exit 1 if behind)."""
    from engine.store import migrate

    with runtime() as rt:
        current, head = migrate.current_revision(rt.db), migrate.head_revision()
        emit({"database": rt.db.redacted_url(), "current": current, "expected": head}, fmt)
    if current != head:
        raise typer.Exit(1)
