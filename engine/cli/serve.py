"""`contractflow serve`: the web app under uvicorn, with the scheduler beside it."""

from __future__ import annotations

import contextlib
import importlib
import signal
import socket
from typing import Annotated, Any

import typer

from engine.cli.common import NoUserOpt, fail


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _scheduler(settings: Any, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """The Prefect server and flow runner (alerts, escalations, re-scoring), when installed."""
    if not enabled:
        return contextlib.nullcontext()
    try:
        stack_module = importlib.import_module("flows.stack")
    except ImportError:
        typer.echo("scheduler: not available in this install; serving the web app only", err=True)
        return contextlib.nullcontext()
    typer.echo("scheduler: starting the local Prefect server and flow runner ...", err=True)
    stack: contextlib.AbstractContextManager[Any] = stack_module.PrefectStack(settings)
    return stack


def _enter_scheduler(stack: contextlib.ExitStack, settings: Any, enabled: bool) -> None:
    """Start the scheduler; a second `serve` on the same data folder is refused (exit 2),
    a scheduler that does not start leaves the web app running without it, loudly."""
    scheduler = _scheduler(settings, enabled)
    try:
        started = stack.enter_context(scheduler)
    except RuntimeError as exc:
        if type(exc).__name__ in ("SchedulerBusy", "PrefectPortBusy"):
            fail(f"scheduler: {exc}")  # the operator's setup, not a crash: refuse, exit 2
        typer.echo(f"scheduler: did not start ({exc}); serving the web app without it", err=True)
        return
    if started is not None:
        typer.echo(
            f"scheduler: Prefect UI at {started.ui_url} (runs, logs; API {started.api_url})",
            err=True,
        )


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on", min=1, max=65535)] = 8000,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="serve the web app only (no Prefect)")
    ] = False,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes", min=1, max=64)] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="log every request")
    ] = True,
    as_user: NoUserOpt = None,
) -> None:
    """Serve the web app and JSON API (OpenAPI at /docs) and run the scheduled jobs."""
    import uvicorn

    from engine.settings import get_settings

    if not _port_free(host, port):
        fail(f"--port: {host}:{port} is already in use (pick another with --port)")
    settings = get_settings()
    from engine import logs
    from engine.services.sessions import session_secret

    logs.configure(settings)
    session_secret(settings)  # refuse a public key now, not in every worker
    # uvicorn re-raises SIGTERM after its own shutdown; make that an exception so the
    # scheduler's processes are stopped on the way out instead of being orphaned.
    signal.signal(signal.SIGTERM, _terminate)
    with contextlib.ExitStack() as stack:
        _enter_scheduler(stack, settings, not no_scheduler)
        typer.echo(f"contractflow: http://{host}:{port}/ (API docs at /docs)", err=True)
        if workers > 1:
            from engine.web.server import run_workers

            run_workers(host, port, workers, access_log=access_log, log_level=settings.log_level)
        else:
            from engine.web.app import create_app

            uvicorn.run(
                create_app(send_emails=True),
                host=host,
                port=port,
                log_level=settings.log_level,
                access_log=access_log,
                log_config=None,  # engine.logs shapes every line, uvicorn's too
            )
