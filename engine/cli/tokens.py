"""`tokens create | list | revoke`: API tokens for scripts that call the JSON API."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.common import (
    AsUserOpt,
    FormatOpt,
    OutputFormat,
    acting_as,
    acting_user,
    emit,
    runtime,
)


def register(app: typer.Typer) -> None:
    tokens_app = typer.Typer(help="API tokens for the JSON API.", no_args_is_help=True)
    tokens_app.command("create")(create)
    tokens_app.command("list")(list_)
    tokens_app.command("revoke")(revoke)
    app.add_typer(tokens_app, name="tokens")


def create(
    as_user: AsUserOpt = None,
    name: Annotated[str, typer.Option(help="what the token is for")] = "",
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Create a token for the acting user. It is printed once: only its hash is stored.

    Send it as `Authorization: Bearer TOKEN`.
    """
    from engine.services.auth import create_token

    with runtime() as rt:
        new = create_token(rt, acting_user(as_user), name)
    if fmt is OutputFormat.JSON:
        emit(new, fmt)
    else:
        typer.echo(new.token)


def list_(
    as_user: AsUserOpt = None,
    every: Annotated[bool, typer.Option("--all", help="every user's tokens")] = False,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Tokens of the acting user (with --all: of everyone). Never prints the secrets."""
    from engine.services.auth import list_tokens

    with runtime() as rt:
        if every and (who := acting_as(rt, as_user)) is not None:
            from engine.services.access import require_admin

            require_admin(who)
        rows = list_tokens(rt, None if every else acting_user(as_user))
    emit(rows, fmt, columns=["id", "user", "name", "created_at", "last_used_at", "revoked"])


def revoke(
    token_id: Annotated[int, typer.Argument(help="the token's id (see `tokens list`)")],
    as_user: AsUserOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Revoke a token: requests with it get 401 from then on (with --as: your own token,
    or anyone's for an admin)."""
    from engine.services.auth import list_tokens, revoke_token

    with runtime() as rt:
        who = acting_as(rt, as_user)
        mine = {t.id for t in list_tokens(rt, who.username)} if who is not None else set()
        if who is not None and not who.has("admin") and token_id not in mine:
            from engine.errors import Forbidden

            raise Forbidden(f"{who.username} may revoke only their own tokens")
        emit(revoke_token(rt, token_id), fmt)
