"""`init` and `config show`."""

from __future__ import annotations

from typing import Any

import typer

from engine.cli.common import FormatOpt, NoUserOpt, OutputFormat, emit, runtime


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    config_app = typer.Typer(help="Effective settings.", no_args_is_help=True)
    config_app.command("show")(config_show)
    app.add_typer(config_app, name="config")


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
    for key, value in result.items():
        if key not in ("database", "workflows", "rules"):
            typer.echo(f"{key.replace('_', ' ')}: {value}")


def config_show(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Print the effective settings (environment, .env and config/risk.yaml), secrets masked."""
    from engine.services.config import effective_settings

    with runtime() as rt:
        emit(effective_settings(rt), fmt)
