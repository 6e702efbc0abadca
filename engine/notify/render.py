"""Alert emails from the templates in `templates/email/` (text and HTML, plus a calendar file).

Templates are data an operator may restyle: `<kind>.txt` and `<kind>.html` for each outbox kind
(`obligation_alert`, `task_escalation`), with `generic.txt` / `generic.html` for a kind that has
none. HTML is autoescaped (a contract title is user input); text is not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from engine.notify.ics import due_date_event

#: Human words for each alert level (subjects and bodies).
LEVEL_LABELS = {
    "due_soon": "Due soon",
    "overdue": "Overdue",
    "overdue_high": "Overdue (high)",
    "overdue_critical": "Overdue (critical)",
}


@dataclass(frozen=True)
class RenderedEmail:
    """What a message needs besides its envelope."""

    subject: str
    text: str
    html: str
    ics: bytes | None = None
    ics_filename: str = "due-date.ics"


@lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = format_money
    return env


def format_money(value: Any) -> str:
    """`1234567.5` -> `1,234,567.50`; text that is not a number is shown as it is."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f}"


def obligation_context(payload: dict[str, Any], level: str, base_url: str | None) -> dict[str, Any]:
    """Template variables for an obligation alert from the payload planning stored."""
    due = dt.date.fromisoformat(str(payload["due"]))
    as_of = dt.date.fromisoformat(str(payload["as_of"]))
    days_overdue = (as_of - due).days
    link = None
    if base_url:
        link = f"{base_url.rstrip('/')}/contracts/{payload['contract']}"
    return {
        **payload,
        # the owner's display name (e.g. 张伟); rows planned before names existed: the login
        "owner_name": payload.get("owner_name") or payload.get("owner") or "",
        "owner": payload.get("owner") or "",
        "level": level,
        "level_label": LEVEL_LABELS.get(level, level),
        "due_date": due,
        "as_of_date": as_of,
        "days_overdue": max(days_overdue, 0),
        "days_left": max(-days_overdue, 0),
        "link": link,
    }


def render_email(
    templates_dir: Path,
    *,
    kind: str,
    level: str,
    subject: str,
    payload: dict[str, Any],
    base_url: str | None,
    uid: str,
    mail_from: str,
) -> RenderedEmail:
    """Render one outbox row. `uid` (the Message-ID) keeps the calendar event stable too."""
    env = _environment(Path(templates_dir))
    if kind == "obligation_alert":
        context = obligation_context(payload, level, base_url)
        ics = due_date_event(
            uid=uid,
            due=context["due_date"],
            summary=f"{context['contract']} {context['obligation']}: {context['description']}"
            if context.get("description")
            else f"{context['contract']} {context['obligation']} due",
            description=f"{context['level_label']}: obligation {context['obligation']} of "
            f"contract {context['contract']} ({context['title']}) is due on {due_iso(context)}.",
            organizer=mail_from,
            url=context["link"],
        )
    else:
        context = generic_context(payload, level, base_url)
        ics = None
    context["subject"] = subject
    text = _render(env, kind, "txt", context)
    html = _render(env, kind, "html", context)
    return RenderedEmail(subject=subject, text=text, html=html, ics=ics)


def generic_context(payload: dict[str, Any], level: str, base_url: str | None) -> dict[str, Any]:
    """Variables for kinds written by other parts (task escalations): the payload as rows."""
    contract = payload.get("contract")
    link = f"{base_url.rstrip('/')}/contracts/{contract}" if base_url and contract else None
    items = [
        (name.replace("_", " "), value)
        for name, value in sorted(payload.items())
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    ]
    return {
        "payload": payload,
        "payload_items": items,
        "level": level,
        "level_label": LEVEL_LABELS.get(level, level),
        "link": link,
    }


def due_iso(context: dict[str, Any]) -> str:
    return str(context["due_date"].isoformat())


def _render(env: Environment, kind: str, ext: str, context: dict[str, Any]) -> str:
    try:
        template = env.get_template(f"{kind}.{ext}")
    except TemplateNotFound:
        template = env.get_template(f"generic.{ext}")
    return template.render(**context)
