"""`init` and `config show`."""

from __future__ import annotations

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
    emit(result, fmt)


def config_show(as_user: NoUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Print the effective settings (environment, .env and config/risk.yaml), secrets masked."""
    from engine.services.config import effective_settings

    with runtime() as rt:
        emit(effective_settings(rt), fmt)
