"""The app factory: one `Runtime`, the routers, the error handlers, sessions and assets.

`create_app(rt)` is what `contractflow serve` runs under uvicorn and what tests drive; the
same services the CLI calls do the work, so the web and the command line cannot disagree.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.services.runtime import Runtime
from engine.services.sessions import SESSION_LIFETIME, session_secret
from engine.web import errors
from engine.web.limits import BodySizeLimit, BodyTooLarge
from engine.web.templating import make_templates

log = logging.getLogger("contractflow.web")

SESSION_COOKIE = "contractflow_session"
SESSION_MAX_AGE = int(SESSION_LIFETIME.total_seconds())
#: Pages load nothing from elsewhere and run no inline script.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)
DESCRIPTION = """The JSON API of contractflow: the same services as the `contractflow`
command. Authenticate with `Authorization: Bearer TOKEN` (create a token with
`contractflow tokens create --as USER`). Errors are `{"error": "...", "problems": [...]}`
with status 400, 401, 403, 404, 409, 413 or 422."""


class SecurityHeaders:
    """Headers every response carries unless the route set its own (CSP and framing rules
    for pages; not for the Swagger UI under /docs, which needs its own script).

    A plain ASGI middleware: Starlette's `@app.middleware("http")` (BaseHTTPMiddleware)
    runs each request through an extra task and memory streams, which cost a measurable
    share of a small API call's CPU."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pages = not scope["path"].startswith("/docs")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if pages:
                    headers.setdefault("Content-Security-Policy", PAGE_CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _swagger_assets() -> Path | None:
    try:
        bundle = importlib.import_module("swagger_ui_bundle")
    except ImportError:
        return None
    return Path(bundle.swagger_ui_path)


def create_app(rt: Runtime | None = None, *, send_emails: bool = False) -> FastAPI:
    """The web app over `rt` (a new `Runtime` from the environment when not given).

    `send_emails` (what `contractflow serve` asks for) runs the prompt sender thread: task
    emails go out seconds after the commit that queued them."""
    owned = rt is None
    runtime = rt or Runtime()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Load the rule set and risk evaluator now, outside any request's transaction, so
        # the first submit does not pay for it (or wait on its own write lock on SQLite).
        # With the database down the app still starts and answers 503; the evaluator then
        # loads on first use, from the stored rule set, once the database is back.
        try:
            runtime.evaluator  # noqa: B018 - loading is the point
        except OperationalError as exc:
            log.warning("risk rules not loaded at start-up: %s", str(exc).splitlines()[0])
        # A year the business calendar does not know yet is said now, not at a deadline.
        runtime.check_calendar()
        sender = None
        if send_emails:
            from engine.services.prompt_delivery import PromptSender

            sender = PromptSender(runtime).start()
            sender.wake()  # whatever waited while the server was down
        app.state.sender = sender
        yield
        if sender is not None:
            sender.stop()
        if owned:
            runtime.close()

    app = FastAPI(
        title="contractflow",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.rt = runtime
    app.state.templates = make_templates(runtime.settings.templates_dir, runtime.settings.zone)

    # Innermost: unexpected errors become answers that the middleware below still sees.
    app.add_middleware(errors.CatchUnexpected, reraise=(BodyTooLarge,))
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(runtime.settings),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=runtime.settings.cookie_secure,
    )
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.upload_max_bytes)

    app.add_middleware(SecurityHeaders)

    errors.install(app)
    static = runtime.settings.templates_dir / "web" / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")
    assets = _swagger_assets()
    if assets is not None:
        app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if assets is None:
            return HTMLResponse('<p>API schema: <a href="/openapi.json">/openapi.json</a></p>')
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="contractflow API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    from engine.web.api import router as api_router
    from engine.web.health import router as health_router
    from engine.web.routes import router as pages_router

    app.include_router(health_router)
    app.include_router(api_router, prefix="/api")
    app.include_router(pages_router)
    return app
