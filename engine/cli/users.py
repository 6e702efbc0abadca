"""`users add` and `users list`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from engine.cli.common import FormatOpt, OutputFormat, emit, fail, runtime

NotifyOpt = Annotated[
    str | None,
    typer.Option(
        "--notify",
        help="task emails: immediate (default), digest (one a day) or off",
        metavar="immediate|digest|off",
    ),
]


def register(app: typer.Typer) -> None:
    users_app = typer.Typer(help="People and their roles.", no_args_is_help=True)
    users_app.command("add")(add)
    users_app.command("set")(set_)
    users_app.command("list")(list_)
    app.add_typer(users_app, name="users")


def add(
    name: Annotated[str, typer.Argument(help="user name (lower case)")],
    role: Annotated[list[str], typer.Option("--role", help="a role; repeat for several")],
    email: Annotated[str | None, typer.Option(help="where alerts go")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the web password from standard input")
    ] = False,
    notify: NotifyOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Add a user, or update one (the roles given replace the old ones)."""
    from engine.services.users import add_user

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin: no password on standard input")
    with runtime() as rt:
        user = add_user(rt, name, role, email=email, password=password, notify=notify)
    emit(user, fmt)


def set_(
    name: Annotated[str, typer.Argument(help="an existing user")],
    email: Annotated[str | None, typer.Option(help="where emails go")] = None,
    notify: NotifyOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Change a user's email or how they are told about tasks."""
    from engine.services.users import set_user

    if email is None and notify is None:
        fail("nothing to change: give --email or --notify")
    with runtime() as rt:
        user = set_user(rt, name, email=email, notify=notify)
    emit(user, fmt)


def list_(fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Every user with roles and email."""
    from engine.services.users import list_users

    with runtime() as rt:
        emit(list_users(rt), fmt, columns=["username", "roles", "email", "notify", "active"])
