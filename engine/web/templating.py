"""Jinja2 for the pages: autoescaped, with the filters the templates share.

Templates are data (`templates/web/`), so a deployment can restyle pages without touching
code. Every page gets `user` (the signed-in `Principal` or None) and `csrf_token`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from engine import i18n
from engine.domain.wording import field_words, words
from engine.services import access
from engine.services.auth import Principal
from engine.web.charts import bar_chart, stacked_bar_chart
from engine.web.messages import page_words
from engine.web.security import csrf_token

SEVERITY_ORDER = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def money(value: Any, currency: str | None = None) -> str:
    """2400000 -> `2,400,000.00 CNY`: grouped, two decimals, like a contract writes it."""
    if value is None or value == "":
        return ""
    if i18n.current_language() != "en":  # zh-CN: `¥2,400,000.00` (Babel)
        return i18n.format_money(value, currency)
    amount = Decimal(str(value))
    text = f"{amount:,.2f}"
    return f"{text} {currency}" if currency else text


def number(value: Any) -> str:
    if value is None:
        return ""
    amount = Decimal(str(value))
    return format(amount.normalize(), "f") if amount == amount.to_integral() else str(amount)


def date(value: Any, zone: dt.tzinfo | None = None) -> str:
    """A date as is; a moment in time in the business's time zone (stored as UTC)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value) if "T" in value else value
        except ValueError:
            return value[:16].replace("T", " ")
        if isinstance(value, str):
            return value
    if isinstance(value, dt.datetime):
        if zone is not None and value.tzinfo is not None:
            value = value.astimezone(zone)
        if i18n.current_language() != "en":  # zh-CN: `2027年3月1日 14:00`
            return f"{i18n.format_day(value.date())} {value:%H:%M}"
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return i18n.format_day(value)
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
    """A code as a person reads it (`legal_review` -> `legal review`; see
    `engine.domain.wording`)."""
    code = str(value or "")
    if i18n.current_language() != "en" and code in i18n.CODE_WORDS_ZH:
        return i18n.code_words(code)
    return words(code)


def make_templates(templates_dir: Path, zone: dt.tzinfo | None = None) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir / "web")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # `{{ _("...") }}` and `{% trans %}` read the request's language (engine.i18n).
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
    )
    if "jinja2.ext.InternationalizationExtension" not in env.extensions:
        # `{{ _("Text") }}` in templates; the language catalogs replace these null ones.
        env.add_extension("jinja2.ext.i18n")
        env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        money=money,
        number=number,
        date=lambda value: date(value, zone),
        days=days_phrase,
        human=humanise,
        field=field_words,
        person=person,
    )
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


def _names(request: Request) -> dict[str, str]:
    """Login name -> display name (only users that have one; one small indexed read)."""
    from engine.services.users import display_names

    rt = request.app.state.rt
    with rt.db.reads() as session:
        return display_names(session)


@jinja2.pass_context
def person(context: Any, username: Any) -> str:
    """A person as pages show them: their display name (e.g. 张伟), else their login."""
    if not username:
        return ""
    names = context.get("names") or {}
    return str(names.get(str(username), username))


def flash(request: Request, message: str, *, error: bool = False) -> None:
    """A one-time message for the next page (kept in the signed session, not the URL);
    `error` makes it a red banner (`role="alert"`) instead of a green one."""
    request.session["flash"] = {"text": message, "error": error}


def flash_refusal(request: Request, lines: Sequence[str] | str) -> None:
    """A refused action: an error banner, in the page's words (no option names)."""
    flash(request, "Not done: " + page_words(lines), error=True)


def _pop_flash(request: Request) -> dict[str, Any] | None:
    if "session" not in request.scope:
        return None
    found = request.session.pop("flash", None)
    if found is None:
        return None
    if isinstance(found, str):  # a session signed before banners had a kind
        return {"text": found, "error": False}
    return {"text": str(found.get("text", "")), "error": bool(found.get("error"))}


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """Render a page with the shared context (user, CSRF token, current path)."""
    templates: Jinja2Templates = request.app.state.templates
    user = getattr(request.state, "user", None)
    ctx: dict[str, Any] = {
        "user": user,
        "names": _names(request) if user is not None else {},
        "can": _menu(user),
        "csrf_token": csrf_token(request),
        "path": request.url.path,
        "flash": _pop_flash(request),
    }
    ctx.update(context or {})
    with i18n.use_language(page_language(request)) as language:
        ctx.setdefault("language", language)
        return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def page_language(request: Request) -> str:
    """The signed-in user's setting, else `Accept-Language`, else the default setting."""
    from sqlalchemy import select

    from engine.store import models as m

    rt = request.app.state.rt
    user = getattr(request.state, "user", None)
    setting = None
    if user is not None:
        with rt.db.reads() as session:
            setting = session.scalar(select(m.User.language).where(m.User.id == user.id))
    default = getattr(rt.settings, "default_language", i18n.DEFAULT_LANGUAGE)
    return i18n.choose_language(setting, request.headers.get("accept-language"), default)
