"""`contracts validate` (and, with the documents module, `contracts extract`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli.common import FormatOpt, NoUserOpt, OutputFormat, emit, fail, runtime
from engine.cli.contract_list import list_contracts
from engine.cli.documents import extract


def register(app: typer.Typer) -> None:
    contracts_app = typer.Typer(help="Contract files.", no_args_is_help=True)
    contracts_app.command("validate")(validate)
    contracts_app.command("extract")(extract)
    contracts_app.command("list")(list_contracts)
    app.add_typer(contracts_app, name="contracts")


def validate(
    files: Annotated[
        list[Path],
        typer.Argument(help="contract files (.yaml, .yml, .json or .docx); - reads stdin"),
    ],
    as_user: NoUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Check contract files; store nothing. Exit 2 with one line per problem when invalid.

    Terms that do not agree (amount, installments, payment obligations) are warnings:
    printed on standard error, named, exit 0.
    """
    import sys

    from engine.services.contracts import check_files

    stdin_text = sys.stdin.read() if any(str(f) == "-" for f in files) else None
    with runtime() as rt:
        errors, warnings = check_files(rt, files, stdin_text)
    if fmt is OutputFormat.JSON:
        emit({"valid": not errors, "errors": errors, "warnings": warnings}, fmt)
        if errors:
            raise typer.Exit(2)
        return
    for line in warnings:
        typer.echo(f"warning: {line}", err=True)
    if errors:
        fail(errors)
    typer.echo(f"{len(files)} file(s) valid")
