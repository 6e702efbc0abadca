"""Errors as the caller can use them: JSON with a status for the API, a page for people.

Every `ContractflowError` carries its HTTP status (`engine.errors`): bad input 400, an
invalid contract or definition 422, not signed in 401, not allowed 403, not found 404, a
conflict (someone acted first, a task is closed) 409, an upload too large 413, too many
failed sign-ins 429 (with `Retry-After`). The JSON body is
`{"error": first line, "problems": [every line]}`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.errors import ContractflowError, TooManyAttempts, Unauthenticated
from engine.web.deps import LoginRequired
from engine.web.templating import render

log = logging.getLogger("contractflow.web")

TITLES = {
    400: "Bad request",
    401: "Sign in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Not available",
}


def wants_json(request: Request) -> bool:
    return (
        request.url.path.startswith("/api")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def error_response(
    request: Request, status: int, lines: list[str], headers: dict[str, str] | None = None
) -> Response:
    if wants_json(request):
        headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
        body: dict[str, Any] = {
            "error": lines[0] if lines else TITLES.get(status, ""),
            "problems": lines,
        }
        return JSONResponse(body, status_code=status, headers=headers)
    page = render(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, "Error"), "problems": lines},
        status_code=status,
    )
    for key, value in (headers or {}).items():
        page.headers[key] = value
    return page


def unexpected_response(request: Request, exc: Exception) -> Response:
    """A bug or an outage: a bug is logged with its traceback, an outage (database down) in
    one line; answered without either."""
    kind = type(exc).__name__ if type(exc).__module__.startswith("sqlalchemy") else ""
    if kind == "OperationalError":
        log.error("database unavailable: %s", str(exc).splitlines()[0])
        return error_response(
            request, 503, ["the database is not available; try again"], {"Retry-After": "5"}
        )
    if kind == "DataError":  # e.g. a NUL character or a number out of the column's range
        return error_response(
            request, 400, ["a value in the request cannot be stored (control characters?)"]
        )
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, ["internal error; it has been logged"])


class CatchUnexpected:
    """Answer an unexpected error inside the app's middleware stack (issue 18 item 12), so
    the 500 or 503 passes through `SecurityHeaders` like every other answer, and the
    error is not re-raised to the server: uvicorn then neither logs a second traceback
    (an expected 503 stays one log line) nor drops the keep-alive connection.

    `reraise` names exceptions that belong to an outer middleware (the body size limit)."""

    def __init__(self, app: ASGIApp, reraise: tuple[type[BaseException], ...] = ()) -> None:
        self.app = app
        self.reraise = reraise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except self.reraise:
            raise
        except Exception as exc:
            if started:  # half an answer is out: nothing better to do than the server's
                raise
            response = unexpected_response(Request(scope), exc)
            await response(scope, receive, send)


def _validation_lines(exc: RequestValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        where = ".".join(loc) or "request"
        lines.append(f"{where}: {err.get('msg', 'invalid')}")
    return lines


def install(app: FastAPI) -> None:
    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ContractflowError)
        if isinstance(exc, Unauthenticated) and not wants_json(request):
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        response = error_response(request, exc.http_status, exc.lines())
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='')}", status_code=303)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        lines = _validation_lines(exc)
        if wants_json(request):
            return JSONResponse(
                {"error": lines[0] if lines else "invalid request", "problems": lines},
                status_code=422,
            )
        return error_response(request, 422, lines)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"there is no page at {request.url.path}"
        response = error_response(request, exc.status_code, [detail])
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def on_database_down(request: Request, exc: Exception) -> Response:
        """An outage is expected, not a bug: one log line, no traceback, 503.

        Registered for the class itself, not under `Exception`: Starlette answers an
        `Exception` handler's response and then re-raises, so the server logs the whole
        traceback again (150 lines per request during an outage)."""
        first = str(exc).strip().splitlines()
        log.error(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            first[0] if first else type(exc).__name__,
        )
        return error_response(
            request, 503, ["the database is not available; try again"], {"Retry-After": "5"}
        )

    async def on_data_error(request: Request, exc: Exception) -> Response:
        # e.g. a NUL character or a number out of the column's range
        return error_response(
            request, 400, ["a value in the request cannot be stored (control characters?)"]
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return unexpected_response(request, exc)

    # The last resort, for errors outside the middleware below (Starlette's own
    # ServerErrorMiddleware: its answers skip SecurityHeaders and it re-raises).
    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(OperationalError, on_database_down)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(ContractflowError, on_error)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
