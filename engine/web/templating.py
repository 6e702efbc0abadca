"""Jinja2 for the pages: autoescaped, with the filters the templates share.

Templates are data (`templates/web/`), so a deployment can restyle pages without touching
code. Every page gets `user` (the signed-in `Principal` or None) and `csrf_token`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from engine.services import access
from engine.services.auth import Principal
from engine.web.charts import bar_chart, stacked_bar_chart
from engine.web.security import csrf_token

SEVERITY_ORDER = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def money(value: Any, currency: str | None = None) -> str:
    """2400000 -> `2,400,000.00 CNY`: grouped, two decimals, like a contract writes it."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value))
    text = f"{amount:,.2f}"
    return f"{text} {currency}" if currency else text


def number(value: Any) -> str:
    if value is None:
        return ""
    amount = Decimal(str(value))
    return format(amount.normalize(), "f") if amount == amount.to_integral() else str(amount)


def date(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value[:16].replace("T", " ")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def days_phrase(days: int | None) -> str:
    """Days until (positive) or past (negative) a due date, as a person says it."""
    if days is None:
        return ""
    if days == 0:
        return "due today"
    if days > 0:
        return f"in {days} day{'s' if days != 1 else ''}"
    return f"{-days} day{'s' if days != -1 else ''} overdue"


def humanise(value: Any) -> str:
    return str(value or "").replace("_", " ")


def make_templates(templates_dir: Path) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir / "web")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, number=number, date=date, days=days_phrase, human=humanise)
    env.globals.update(
        bar_chart=bar_chart, stacked_bar_chart=stacked_bar_chart, severity_rank=SEVERITY_ORDER
    )
    return Jinja2Templates(env=env)


def _menu(user: Principal | None) -> dict[str, bool]:
    if user is None:
        return {}
    return {
        "submit": access.may_submit(user),
        "dashboard": access.may_see_dashboard(user),
        "outbox": access.may_read_outbox(user),
        "admin": access.is_admin(user),
        "reassign": access.may_see_all_tasks(user),  # admin or contract_manager
    }


def flash(request: Request, message: str) -> None:
    """A one-time message for the next page (kept in the signed session, not the URL)."""
    request.session["flash"] = message


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """Render a page with the shared context (user, CSRF token, current path)."""
    templates: Jinja2Templates = request.app.state.templates
    user = getattr(request.state, "user", None)
    ctx: dict[str, Any] = {
        "user": user,
        "can": _menu(user),
        "csrf_token": csrf_token(request),
        "path": request.url.path,
        "flash": request.session.pop("flash", None) if "session" in request.scope else None,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
