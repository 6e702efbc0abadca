"""Machinery every command shares: output formats, the acting user, errors and exit codes.

Exit codes (SPEC section 4): 0 done; 1 the command ran and the answer is no (a conflict,
`--fail-on` tripped, not allowed); 2 bad input or usage. A user mistake prints one line per
problem on stderr, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
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
#: `--as` on a command that needs no user (SPEC 4a: every command accepts it).
NoUserOpt = Annotated[
    str | None,
    typer.Option("--as", help="accepted and ignored: this command needs no user", hidden=True),
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


#: C0 and C1 control characters, DEL, and the Unicode bidi overrides and isolates: text
#: that moves the cursor, retitles the window, clears the screen or reorders what a reader
#: sees. Tabs and line breaks become spaces (a cell is one line of someone's input).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile("[\t\n\r]")

#: Columns that hold money: grouped with two decimals in tables, as the web shows them.
MONEY_COLUMNS = frozenset(
    {"amount", "amount_base", "outstanding", "exposure", "credit_limit", "available_credit"}
)


def safe_text(value: object) -> str:
    """Text from the database made harmless for a terminal (issue 18, item 6): every
    control character removed, so a contract title cannot carry escape sequences.
    (Rich markup is not parsed at all: `print_table` hands cells over as plain `Text`.)"""
    return _CONTROL.sub("", _BREAKS.sub(" ", str(value)))


def money(value: Any) -> str:
    """`3680000` -> `3,680,000.00` (tables only; JSON keeps the number)."""
    if value is None or value == "" or isinstance(value, bool):
        return "" if value is None else str(value)
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f}"


def print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None
) -> None:
    """Every table the CLI prints goes through here: cells are plain text (no markup),
    stripped of control characters; money columns are formatted."""
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=Text(safe_text(title)) if title else None, show_lines=False, header_style="bold"
    )
    for col in columns:
        table.add_column(Text(safe_text(col)), justify="right" if col in MONEY_COLUMNS else "left")
    for row in rows:
        table.add_row(
            *(
                Text(money(row.get(col)) if col in MONEY_COLUMNS else _cell(row.get(col)))
                for col in columns
            )
        )
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
        return safe_text(", ".join(str(v) for v in value))
    if isinstance(value, dict):
        return safe_text(json.dumps(value, ensure_ascii=False))
    return safe_text(value)


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
            shown = money(to_jsonable(value)) if key in MONEY_COLUMNS else _cell(value)
            sys.stdout.write(f"{safe_text(key).ljust(width)}  {shown}\n")
    else:
        sys.stdout.write(f"{_cell(data)}\n")


def fail(lines: Sequence[str] | str, code: int = 2) -> NoReturn:
    """Print problems on stderr, one per line, and exit."""
    _print_problems([lines] if isinstance(lines, str) else lines, code)
    raise typer.Exit(code)


def acting_user(as_user: str | None) -> str:
    """`--as`, else `$CONTRACTFLOW_USER`; refuse to guess."""
    user = as_user or os.environ.get("CONTRACTFLOW_USER")
    if not user:
        raise Unauthenticated("no acting user: pass --as USER or set CONTRACTFLOW_USER")
    return user


def acting_as(rt: Any, as_user: str | None) -> Any:
    """The `Principal` a read command answers for: `--as`, else `$CONTRACTFLOW_USER`; None
    when neither is given (the operator, who holds the database URL, sees everything).
    With a user, the web app's visibility rules apply (engine.services.access); an
    unknown user is exit 2."""
    name = as_user or os.environ.get("CONTRACTFLOW_USER")
    if not name:
        return None
    from engine.services.access import acting_principal

    return acting_principal(rt, name)


def require_visible(rt: Any, who: Any, code: str) -> None:
    """Exit 1 "not found or not visible" when `who` (if any) may not see contract `code`."""
    if who is not None:
        from engine.services.access import check_visible

        check_visible(rt, who, code)


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _warn(line: str) -> None:
    sys.stderr.write(f"warning: {line}\n")


@contextmanager
def runtime() -> Iterator[Any]:
    """A `Runtime` for one command, closed afterwards (worker processes, connections)."""
    from engine.services.runtime import Runtime

    rt = Runtime()
    # One line on stderr, e.g. a year the business calendar does not know yet.
    rt.warn = _warn
    try:
        yield rt
        _send_queued_emails(rt)
    finally:
        rt.close()


MAX_ID = 2**31 - 1


def row_id(value: int, what: str) -> int:
    """A task, alert or token id as typed: past what the database stores (2^31 - 1, the
    same bound as the API's) it cannot exist, and must not reach the driver, which raised
    OverflowError with a traceback for 2^64."""
    if not 1 <= value <= MAX_ID:
        from engine.errors import InvalidInput

        raise InvalidInput(f"{what} {value}: not an id (ids are whole numbers from 1 to {MAX_ID})")
    return value


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


#: Set by `handle_errors` when the command line asks for `--format json`: errors then go to
#: stderr as one JSON object, so a script reads both answers and failures the same way.
_json_errors = False


def wants_json_output(args: Sequence[str]) -> bool:
    """`--format json`, `--format=json`, `-f json` or `-fjson` anywhere on the line."""
    for i, arg in enumerate(args):
        if arg in ("--format", "-f") and i + 1 < len(args) and args[i + 1] == "json":
            return True
        if arg in ("--format=json", "-fjson"):
            return True
    return False


def handle_errors(
    fn: Callable[[], Any],
    *,
    structured: Callable[[], Any] | None = None,
    args: Sequence[str] | None = None,
) -> Any:
    """Run the app, turning our errors into one-line messages and exit codes.

    Under `--format json`, `structured` (the Typer app with `standalone_mode=False`) runs
    instead of `fn`, so usage errors come back here and print as JSON too."""
    global _json_errors
    _json_errors = wants_json_output(sys.argv[1:] if args is None else args)
    try:
        result = structured() if _json_errors and structured is not None else fn()
    except ContractflowError as exc:
        _print_problems(exc.lines(), exc.exit_code)
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # a usage error; only reached under --format json
        code = int(getattr(exc, "exit_code", 2))
        format_message = getattr(exc, "format_message", None)
        message = format_message() if callable(format_message) else str(exc)
        _print_problems([str(message)], code)
        sys.exit(code)
    except _database_errors() as exc:
        _print_problems([f"database: {_first_line(exc)}"], 2)
        sys.exit(2)
    except Exception as exc:
        from engine.settings import settings_problems

        problems = settings_problems(exc)
        if problems is None:
            raise
        _print_problems(problems, 2)  # a mistyped CONTRACTFLOW_* variable: the operator's input
        sys.exit(2)
    if _json_errors and isinstance(result, int) and result:
        sys.exit(result)
    return result


def _print_problems(lines: Sequence[str], code: int = 2) -> None:
    if _json_errors:
        body = {"error": lines[0] if lines else "", "problems": list(lines), "exit_code": code}
        sys.stderr.write(json.dumps(body, ensure_ascii=False) + "\n")
        return
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
