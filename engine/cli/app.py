"""The root Typer app. Each command group lives in its own module and registers itself."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from engine.cli import (
    alerts,
    contracts,
    counterparties,
    documents,
    notify,
    rules,
    scorecard,
    serve,
    setup,
    tokens,
    users,
    workflow,
)
from engine.cli.common import handle_errors

app = typer.Typer(
    name="contractflow",
    help="Contract approval workflows and risk rules.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version() -> str:
    try:
        return version("contractflow")
    except PackageNotFoundError:  # a checkout run without installing
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"contractflow {_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="print the version and exit",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Contract approval workflows and risk rules."""


for module in (
    setup,
    users,
    contracts,
    serve,
    tokens,
    alerts,
    notify,
    workflow,
    documents,
    rules,
    counterparties,
    scorecard,
):
    module.register(app)


def run() -> None:
    handle_errors(
        lambda: app(prog_name="contractflow"),
        structured=lambda: app(prog_name="contractflow", standalone_mode=False),
    )
