"""`contracts list`: the contract list with filters, search, sorting and paging."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from engine.cli.common import (
    AsUserOpt,
    OutputFormat,
    acting_as,
    emit,
    print_json,
    runtime,
    to_jsonable,
)


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


TABLE_COLUMNS = [
    "id",
    "title",
    "counterparty",
    "owner",
    "stage",
    "status",
    "amount",
    "currency",
    "max_severity",
    "updated_at",
]


def list_contracts(
    stage: Annotated[str | None, typer.Option(help="only contracts at this stage")] = None,
    status: Annotated[
        str | None, typer.Option(help="active, closed, withdrawn or terminated")
    ] = None,
    counterparty: Annotated[
        str | None, typer.Option(help="counterparty name contains this (any case)")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="owner's username")] = None,
    team: Annotated[str | None, typer.Option(help="the owner's team")] = None,
    min_severity: Annotated[
        str | None, typer.Option(help="highest flag at least: low, medium, high or critical")
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="id, title or counterparty contains this (any case)")
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            help="id, title, counterparty, owner, stage, status, amount, "
            "max_severity, submitted_at or updated_at; -FIELD descending"
        ),
    ] = "-updated_at",
    limit: Annotated[int, typer.Option(min=1, max=50_000, help="rows to show")] = 100,
    offset: Annotated[int, typer.Option(min=0, max=10_000_000, help="rows to skip")] = 0,
    as_user: AsUserOpt = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table, json or csv (UTF-8 with BOM)")
    ] = ListFormat.TABLE,
) -> None:
    """Contracts you may see, filtered and sorted (most recently changed first)."""
    from engine.services.contract_list import checked_filter, contract_list, rows_csv

    with runtime() as rt:
        who = acting_as(rt, as_user)
        f = checked_filter(
            rt,
            stage=stage,
            status=status,
            counterparty=counterparty,
            owner=owner,
            team=team,
            min_severity=min_severity,
            search=search,
            sort=sort,
        )
        rows = contract_list(rt, who, f, limit=limit, offset=offset)
    if fmt is ListFormat.CSV:
        sys.stdout.flush()
        sys.stdout.buffer.write(rows_csv(rows))
        sys.stdout.buffer.flush()
        return
    if fmt is ListFormat.JSON:
        print_json(to_jsonable(rows))
        return
    emit(rows, OutputFormat.TABLE, columns=TABLE_COLUMNS)
