"""The root Typer app. Each command group lives in its own module and registers itself."""

from __future__ import annotations

import typer

from engine.cli import (
    alerts,
    contracts,
    documents,
    notify,
    rules,
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
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

for module in (setup, users, contracts, serve, tokens, alerts, notify, workflow, documents, rules):
    module.register(app)


def run() -> None:
    handle_errors(lambda: app(prog_name="contractflow"))
