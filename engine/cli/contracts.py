"""`contracts validate` (and, with the documents module, `contracts extract`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli.common import FormatOpt, NoUserOpt, OutputFormat, emit, fail, runtime
from engine.cli.documents import extract


def register(app: typer.Typer) -> None:
    contracts_app = typer.Typer(help="Contract files.", no_args_is_help=True)
    contracts_app.command("validate")(validate)
    contracts_app.command("extract")(extract)
    app.add_typer(contracts_app, name="contracts")


def validate(
    files: Annotated[list[Path], typer.Argument(help="contract files (.yaml, .yml or .json)")],
    as_user: NoUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Check contract files; store nothing. Exit 2 with one line per problem when invalid."""
    from engine.services.contracts import validate_files

    with runtime() as rt:
        errors = validate_files(rt, files)
    if fmt is OutputFormat.JSON:
        emit({"valid": not errors, "errors": errors}, fmt)
        if errors:
            raise typer.Exit(2)
        return
    if errors:
        fail(errors)
    typer.echo(f"{len(files)} file(s) valid")
