"""`contractflow counterparties add | set | list | show` (SPEC 7, docs/counterparties.md)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from engine.cli.common import (
    AsUserOpt,
    FormatOpt,
    OutputFormat,
    acting_user,
    emit,
    print_table,
    runtime,
)

RatingOpt = Annotated[str | None, typer.Option("--rating", help="AAA AA A BBB BB B CCC CC C D")]
LimitOpt = Annotated[
    str | None,
    typer.Option("--credit-limit", help="credit limit in the base currency (or 'none')"),
]
StatusOpt = Annotated[str | None, typer.Option("--status", help="active, watch or blocked")]


def register(app: typer.Typer) -> None:
    cp_app = typer.Typer(help="The counterparty register: ratings, credit limits, status.")
    cp_app.command("add")(add)
    cp_app.command("set")(set_)
    cp_app.command("list")(list_)
    cp_app.command("show")(show)
    app.add_typer(cp_app, name="counterparties", no_args_is_help=True)


def add(
    name: Annotated[str, typer.Argument(help="the counterparty's name")],
    code: Annotated[
        str | None, typer.Option("--code", help="Unified Social Credit Code (18 characters)")
    ] = None,
    rating: RatingOpt = None,
    credit_limit: LimitOpt = None,
    status: StatusOpt = None,
    reason: Annotated[str | None, typer.Option("--reason", help="kept in the history")] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Add a counterparty to the register (risk_officer or admin)."""
    from engine.services.counterparties import add_counterparty

    user = acting_user(as_user)
    with runtime() as rt:
        result = add_counterparty(
            rt,
            user,
            name,
            code=code,
            rating=rating,
            credit_limit=credit_limit,
            status=status,
            reason=reason,
        )
    emit(result, fmt, table=_show_table)


def set_(
    key: Annotated[str, typer.Argument(metavar="NAME_OR_CODE", help="name or code")],
    reason: Annotated[str, typer.Option("--reason", help="why it changes (kept in the history)")],
    rating: RatingOpt = None,
    credit_limit: LimitOpt = None,
    status: StatusOpt = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Change rating, credit limit or status; re-scores its active contracts at once and
    warns the owner of every contract whose risk rose."""
    from engine.services.counterparties import UNSET, set_counterparty

    user = acting_user(as_user)
    with runtime() as rt:
        result = set_counterparty(
            rt,
            user,
            key,
            reason=reason,
            rating=UNSET if rating is None else rating,
            credit_limit=UNSET if credit_limit is None else credit_limit,
            status=UNSET if status is None else status,
        )
    data = result.as_dict()
    if fmt is OutputFormat.JSON:
        emit(data, fmt)
    else:
        sys.stdout.write(
            f"{data['counterparty']}: re-scored {data['rescored']} active contract(s); "
            f"risk rose on {len(data['raised'])}"
            + (f": {', '.join(data['raised'])}" if data["raised"] else "")
            + "\n"
        )


def list_(
    search: Annotated[
        str | None, typer.Option("--search", help="a part of the name, or of the code")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """The register with each counterparty's exposure against its limit."""
    from engine.services.counterparties import list_counterparties

    user = acting_user(as_user)
    with runtime() as rt:
        rows = list_counterparties(rt, user, search, limit, offset)
    emit(
        rows,
        fmt,
        columns=["name", "code", "rating", "status", "credit_limit", "exposure", "contracts"],
    )


def show(
    key: Annotated[str, typer.Argument(metavar="NAME_OR_CODE", help="name or code")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """One counterparty: terms, exposure, contracts and history."""
    from engine.services.counterparties import show_counterparty

    user = acting_user(as_user)
    with runtime() as rt:
        result = show_counterparty(rt, key, user)
    emit(result, fmt, table=_show_table)


def _show_table(data: dict[str, Any]) -> None:
    for key in ("name", "code", "rating", "status", "credit_limit", "exposure", "available_credit"):
        value = data.get(key)
        sys.stdout.write(f"{key.replace('_', ' '):17} {'-' if value is None else value}\n")
    if data["contracts"]:
        print_table(data["contracts"], ["id", "stage", "outstanding"], title="contracts")
    if data["history"]:
        print_table(data["history"], ["at", "by", "field", "from", "to", "reason"], title="history")
