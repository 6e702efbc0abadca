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
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def error_response(request: Request, status: int, lines: list[str]) -> Response:
    if wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        body: dict[str, Any] = {
            "error": lines[0] if lines else TITLES.get(status, ""),
            "problems": lines,
        }
        return JSONResponse(body, status_code=status, headers=headers)
    return render(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, "Error"), "problems": lines},
        status_code=status,
    )


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

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        """A bug or an outage: logged with its traceback, answered without one."""
        kind = type(exc).__name__ if type(exc).__module__.startswith("sqlalchemy") else ""
        if kind == "OperationalError":
            log.error("database unavailable: %s", str(exc).splitlines()[0])
            return error_response(request, 503, ["the database is not available; try again"])
        if kind == "DataError":  # e.g. a NUL character or a number out of the column's range
            return error_response(
                request, 400, ["a value in the request cannot be stored (control characters?)"]
            )
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request, 500, ["internal error; it has been logged"])

    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(ContractflowError, on_error)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
