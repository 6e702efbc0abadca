"""`scorecard`: fulfilment per owner or team over a period (table, JSON or CSV)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from engine.cli.common import AsUserOpt, acting_as, parse_date, print_json, print_table, runtime


class ScorecardFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def register(app: typer.Typer) -> None:
    app.command("scorecard")(scorecard)


def scorecard(
    by: Annotated[
        str, typer.Option("--by", help="one row per owner or per team", metavar="owner|team")
    ] = "owner",
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="first day, YYYY-MM-DD (default: 89 days before --to)", metavar="DATE"
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="last day, YYYY-MM-DD (default: today)", metavar="DATE"),
    ] = None,
    as_user: AsUserOpt = None,
    fmt: Annotated[
        ScorecardFormat, typer.Option("--format", "-f", help="table, json or csv")
    ] = ScorecardFormat.TABLE,
) -> None:
    """Who fulfils obligations on time: one ranked row per owner (or team) over the period.

    With --as, only the contracts that user may see are counted."""
    from engine.errors import InvalidInput
    from engine.services.scorecards import columns, csv_download, printed_rows
    from engine.services.scorecards import scorecard as compute

    if by not in ("owner", "team"):
        raise InvalidInput([f"--by: {by!r} is not one of owner, team"])
    start = parse_date(from_, "--from")
    end = parse_date(to, "--to")
    with runtime() as rt:
        who = acting_as(rt, as_user)
        card = compute(rt, who, by=by, start=start, end=end)  # type: ignore[arg-type]
    if fmt is ScorecardFormat.JSON:
        print_json(printed_rows(card))
    elif fmt is ScorecardFormat.CSV:
        sys.stdout.buffer.write(csv_download(card))
        sys.stdout.flush()
    else:
        print_table(
            printed_rows(card),
            [c.key for c in columns(card.by)],
            title=f"Scorecard by {by}, {card.period_from} to {card.period_to} ({card.base_currency})",
        )
