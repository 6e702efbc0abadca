"""`users add | list | deactivate | reactivate`, and `admin log`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from engine.cli.common import AsUserOpt, FormatOpt, OutputFormat, acting_as, emit, fail, runtime

NotifyOpt = Annotated[
    str | None,
    typer.Option(
        "--notify",
        help="task emails: immediate (default), digest (one a day) or off",
        metavar="immediate|digest|off",
    ),
]

TeamOpt = Annotated[
    str | None,
    typer.Option("--team", help="the user's team, for scorecards by team ('' removes it)"),
]


LanguageOpt = Annotated[
    str | None,
    typer.Option("--language", help="pages and emails in en or zh-CN (default: the browser's)"),
]


def register(app: typer.Typer) -> None:
    users_app = typer.Typer(help="People and their roles.", no_args_is_help=True)
    users_app.command("add")(add)
    users_app.command("set")(set_)
    users_app.command("list")(list_)
    users_app.command("deactivate")(deactivate)
    users_app.command("reactivate")(reactivate)
    app.add_typer(users_app, name="users")
    admin_app = typer.Typer(help="Administration records.", no_args_is_help=True)
    admin_app.command("log")(admin_log)
    app.add_typer(admin_app, name="admin")


def add(
    name: Annotated[str, typer.Argument(help="user name (lower case)")],
    role: Annotated[list[str], typer.Option("--role", help="a role; repeat for several")],
    email: Annotated[str | None, typer.Option(help="where alerts go")] = None,
    display_name: Annotated[
        str | None,
        typer.Option("--display-name", help="the name people read, e.g. 张伟 (default: NAME)"),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the web password from standard input")
    ] = False,
    notify: NotifyOpt = None,
    team: TeamOpt = None,
    language: LanguageOpt = None,
    as_user: AsUserOpt = None,
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
        _require_admin(rt, as_user)
        user = add_user(
            rt,
            name,
            role,
            email=email,
            password=password,
            display_name=display_name,
            notify=notify,
            team=team,
            language=language,
        )
    emit(user, fmt)


def set_(
    name: Annotated[str, typer.Argument(help="an existing user")],
    display_name: Annotated[
        str | None,
        typer.Option("--display-name", help="the name people read; '' removes it"),
    ] = None,
    email: Annotated[str | None, typer.Option(help="where emails go; '' removes it")] = None,
    notify: NotifyOpt = None,
    team: TeamOpt = None,
    language: LanguageOpt = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Change a user's display name, email, team or how they are told about tasks (yourself, or
    as an admin; roles: `users add`)."""
    from engine.services.users import set_user

    if (
        display_name is None
        and email is None
        and notify is None
        and team is None
        and language is None
    ):
        fail("nothing to change: give --display-name, --email, --team, --notify or --language")
    with runtime() as rt:
        if as_user is None or as_user != name:
            _require_admin(rt, as_user)
        user = set_user(
            rt,
            name,
            display_name=display_name,
            email=email,
            notify=notify,
            team=team,
            language=language,
        )
    emit(user, fmt)


def list_(as_user: AsUserOpt = None, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Every user with roles and email."""
    from engine.services.users import list_users

    with runtime() as rt:
        _require_admin(rt, as_user)
        emit(
            list_users(rt),
            fmt,
            columns=["username", "display_name", "roles", "email", "team", "notify", "active"],
        )


def _require_admin(rt: object, as_user: str | None) -> None:
    """Without --as the operator bootstraps users (the first admin comes from here); with
    --as, managing users is an admin's job, as in the web app."""
    who = acting_as(rt, as_user)
    if who is not None:
        from engine.services.access import require_admin

        require_admin(who)


def deactivate(
    name: Annotated[str, typer.Argument(help="the user to offboard")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Deactivate a user: they cannot sign in, their web sessions end and their API tokens
    are revoked at once, and their open assigned tasks go back to the role pool."""
    from engine.services.users import set_active

    with runtime() as rt:
        _require_admin(rt, as_user)
        emit(set_active(rt, name, False), fmt)


def reactivate(
    name: Annotated[str, typer.Argument(help="a deactivated user")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Let a deactivated user sign in again (old tokens stay revoked: make new ones)."""
    from engine.services.users import set_active

    with runtime() as rt:
        _require_admin(rt, as_user)
        emit(set_active(rt, name, True), fmt)


def admin_log(
    limit: Annotated[int, typer.Option(help="at most this many entries", min=1, max=1000)] = 100,
    offset: Annotated[int, typer.Option(help="skip this many newest entries", min=0)] = 0,
    action: Annotated[
        str | None, typer.Option(help="only this action, e.g. password_set", show_default=False)
    ] = None,
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """The admin audit log, newest first: users, roles, passwords, tokens, workflows."""
    from engine.services.admin_log import list_events

    with runtime() as rt:
        _require_admin(rt, as_user)
        rows = list_events(rt, limit=limit, offset=offset, action=action)
    emit(rows, fmt, columns=["id", "at", "actor", "action", "subject", "details"])
