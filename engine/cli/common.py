"""Machinery every command shares: output formats, the acting user, errors and exit codes.

Exit codes (SPEC section 4): 0 done; 1 the command ran and the answer is no (a conflict,
`--fail-on` tripped, not allowed); 2 bad input or usage. A user mistake prints one line per
problem on stderr, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from engine.errors import ContractflowError, Unauthenticated


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table (readable) or json (for scripts)")
]
AsUserOpt = Annotated[
    str | None,
    typer.Option("--as", help="acting user (default: $CONTRACTFLOW_USER)", show_default=False),
]
DateOpt = Annotated[
    str | None, typer.Option(help="a date as YYYY-MM-DD", show_default=False, metavar="DATE")
]


def to_jsonable(value: Any) -> Any:
    """Decimals as numbers when exact, dates as ISO text, models as dicts."""
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="python"))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(data), ensure_ascii=False, indent=2) + "\n")


def print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None
) -> None:
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(_cell(row.get(col)) for col in columns))
    console().print(table)


def console() -> Any:
    """A rich console; when output is piped (no terminal width) tables get room to breathe."""
    from rich.console import Console

    return Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _cell(value: Any) -> str:
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def emit(
    data: Any,
    fmt: OutputFormat,
    *,
    columns: Sequence[str] | None = None,
    table: Callable[[Any], None] | None = None,
    title: str | None = None,
) -> None:
    """Print `data` as JSON, or as a table (given columns) or through a custom renderer."""
    if fmt is OutputFormat.JSON:
        print_json(data)
    elif table is not None:
        table(data)
    elif columns is not None:
        rows = data if isinstance(data, list) else [data]
        print_table([to_jsonable(r) for r in rows], columns, title=title)
    else:
        print_kv(to_jsonable(data))


def print_kv(data: Any) -> None:
    if isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            sys.stdout.write(f"{key.ljust(width)}  {_cell(value)}\n")
    else:
        sys.stdout.write(f"{_cell(data)}\n")


def fail(lines: Sequence[str] | str, code: int = 2) -> NoReturn:
    """Print problems on stderr, one per line, and exit."""
    _print_problems([lines] if isinstance(lines, str) else lines)
    raise typer.Exit(code)


def acting_user(as_user: str | None) -> str:
    """`--as`, else `$CONTRACTFLOW_USER`; refuse to guess."""
    user = as_user or os.environ.get("CONTRACTFLOW_USER")
    if not user:
        raise Unauthenticated("no acting user: pass --as USER or set CONTRACTFLOW_USER")
    return user


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


@contextmanager
def runtime() -> Iterator[Any]:
    """A `Runtime` for one command, closed afterwards (worker processes, connections)."""
    from engine.services.runtime import Runtime

    rt = Runtime()
    try:
        yield rt
        _send_queued_emails(rt)
    finally:
        rt.close()


def _send_queued_emails(rt: Any) -> None:
    """Task emails the command queued go out now (engine.services.prompt_delivery); when
    the mail server cannot take them they wait in the outbox, and the command still
    succeeded."""
    if not rt.db.outbox_commits:
        return
    from engine.services.prompt_delivery import deliver_after_command

    try:
        result = deliver_after_command(rt)
    except Exception as exc:  # the command's own work is committed; say so, keep exit 0
        sys.stderr.write(f"note: emails wait in the outbox ({_first_line(exc)})\n")
        return
    if result is not None and (result.unavailable or result.deferred):
        reason = result.unavailable or "the mail server deferred them"
        sys.stderr.write(
            f"note: {result.deferred} email(s) wait in the outbox ({reason}); "
            "they go out with the next send (`contractflow alerts run`, or `serve`)\n"
        )


def handle_errors(fn: Callable[[], Any]) -> Any:
    """Run the app, turning our errors into one-line messages and exit codes."""
    try:
        return fn()
    except ContractflowError as exc:
        _print_problems(exc.lines())
        sys.exit(exc.exit_code)
    except _database_errors() as exc:
        _print_problems([f"database: {_first_line(exc)}"])
        sys.exit(2)


def _print_problems(lines: Sequence[str]) -> None:
    for line in lines:
        sys.stderr.write(f"error: {line}\n")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _database_errors() -> tuple[type[BaseException], ...]:
    """Connection or schema problems are the operator's input, not a bug: one line, exit 2."""
    if "sqlalchemy" not in sys.modules:
        return ()
    from sqlalchemy.exc import OperationalError, ProgrammingError

    return (OperationalError, ProgrammingError)
