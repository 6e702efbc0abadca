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
    "renewal_notice": "Renewal notice due",
}

#: Outbox kinds about a whole contract (expiry, renewal notice): their calendar event is
#: the end date or the notice deadline.
CONTRACT_KINDS = ("contract_expiry", "renewal_notice")


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


#: Each alert level updates the obligation's one calendar entry (RFC 5545 SEQUENCE).
LEVEL_SEQUENCE = {"due_soon": 0, "overdue": 1, "overdue_high": 2, "overdue_critical": 3}


def calendar_uid(message_id: str, level: str) -> str:
    """One calendar entry per obligation: the alert's Message-ID without its level
    (`obligation.7.OB-2.overdue@host` -> `obligation.7.OB-2@host`), so every level's email
    updates the same entry."""
    local, _, host = message_id.strip("<>").partition("@")
    suffix = f".{level}"
    if local.endswith(suffix):
        local = local[: -len(suffix)]
    return f"{local}@{host}" if host else local


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
    zone: dt.tzinfo | None = None,
) -> RenderedEmail:
    """Render one outbox row. `uid` (the Message-ID) keeps the calendar event stable too."""
    env = _environment(Path(templates_dir))
    if kind == "obligation_alert":
        context = obligation_context(payload, level, base_url)
        ics = due_date_event(
            uid=calendar_uid(uid, level),
            sequence=LEVEL_SEQUENCE.get(level, 0),
            due=context["due_date"],
            summary=f"{context['contract']} {context['obligation']}: {context['description']}"
            if context.get("description")
            else f"{context['contract']} {context['obligation']} due",
            description=f"{context['level_label']}: obligation {context['obligation']} of "
            f"contract {context['contract']} ({context['title']}) is due on {due_iso(context)}.",
            organizer=mail_from,
            url=context["link"],
        )
    elif kind in CONTRACT_KINDS:
        context = contract_context(payload, level, base_url)
        what = "renewal notice deadline" if kind == "renewal_notice" else "end of the contract"
        ics = due_date_event(
            uid=uid,
            due=context["on"],
            summary=f"{context['contract']}: {what}",
            description=f"{context['level_label']}: contract {context['contract']} "
            f"({context['title']}) - {what} on {context['on'].isoformat()}.",
            organizer=mail_from,
            url=context["link"],
        )
    elif kind == "task_escalation":
        context = escalation_context(payload, level, base_url, zone)
        ics = None
    elif kind in ("task_notice", "revise_notice", "task_digest"):
        context = task_context(payload, level, base_url)
        ics = None
    else:
        context = generic_context(payload, level, base_url)
        ics = None
    context["subject"] = subject
    text = _render(env, kind, "txt", context)
    html = _render(env, kind, "html", context)
    return RenderedEmail(subject=subject, text=text, html=html, ics=ics)


def contract_context(payload: dict[str, Any], level: str, base_url: str | None) -> dict[str, Any]:
    """Variables for an expiry or renewal-notice alert from the payload planning stored."""
    on = dt.date.fromisoformat(str(payload["on_date"]))
    as_of = dt.date.fromisoformat(str(payload["as_of"]))
    link = f"{base_url.rstrip('/')}/contracts/{payload['contract']}" if base_url else None
    label = LEVEL_LABELS.get(level) or f"Expiring in {payload.get('days')} days"
    return {
        **payload,
        "level": level,
        "level_label": label,
        "on": on,
        "end": dt.date.fromisoformat(str(payload["end_date"])),
        "as_of_date": as_of,
        "days_left": max((on - as_of).days, 0),
        "link": link,
    }


def _moment(value: Any, zone: dt.tzinfo | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone or dt.UTC)


def _when(moment: dt.datetime | None) -> str:
    """`3 January 2027, 17:00 CST`: a time as a person reads it (no microseconds, no T)."""
    if moment is None:
        return ""
    return f"{moment.day} {moment:%B %Y, %H:%M} {moment.tzname() or ''}".strip()


def _span(delta: dt.timedelta) -> str:
    """`3 days 4 hours`, `5 hours`: how long, in words."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours = rest // 60
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours or not days:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    return " ".join(parts)


def escalation_context(
    payload: dict[str, Any], level: str, base_url: str | None, zone: dt.tzinfo | None
) -> dict[str, Any]:
    """The escalation email in words: the contract, the waiting task, who holds it and for
    how long (times in the business's zone), not a dump of the stored fields."""
    from engine.domain.wording import words

    contract = payload.get("contract")
    link = f"{base_url.rstrip('/')}/contracts/{contract}" if base_url and contract else None
    escalated = _moment(payload.get("escalated_at"), zone)
    opened = _moment(payload.get("opened_at"), zone)
    due = _moment(payload.get("due"), zone)
    amount = payload.get("amount")
    return {
        "payload": payload,
        "contract": contract or "",
        "title": payload.get("title") or "",
        "counterparty": payload.get("counterparty") or "",
        "amount": f"{format_money(amount)} {payload.get('currency') or ''}".strip()
        if amount not in (None, "")
        else "",
        "task": payload.get("task"),
        "stage": words(payload.get("stage")),
        "role": words(payload.get("role")),
        "escalate_to": words(payload.get("escalate_to")),
        "held_by": ", ".join(payload.get("held_by") or []),
        "opened": _when(opened),
        "due": _when(due),
        "waiting": _span(escalated - opened) if escalated and opened else "",
        "late_by": _span(escalated - due) if escalated and due else "",
        "level": level,
        "level_label": LEVEL_LABELS.get(level, level),
        "link": link,
    }


#: The first line of a task email, by why it was sent.
TASK_HEADLINES = {
    "opened": "A task is yours",
    "reassigned": "A task was assigned to you",
    "delegated": "A colleague's task is yours while they are away",
    "last_day": "Today is the last day of this task",
}


def _words(code: Any) -> str:
    return str(code or "").replace("_", " ")


def due_text(due: Any, as_of: dt.date | None = None) -> str:
    """`2027-03-04 17:00 UTC` (and how far that is), or `no due date`."""
    if not due:
        return "no due date"
    when = dt.datetime.fromisoformat(str(due))
    text = when.strftime("%Y-%m-%d %H:%M UTC")
    if as_of is not None:
        days = (when.date() - as_of).days
        if days < 0:
            text += f" ({-days} day{'s' if days != -1 else ''} overdue)"
        elif days == 0:
            text += " (today)"
    return text


def task_context(payload: dict[str, Any], level: str, base_url: str | None) -> dict[str, Any]:
    """Variables for task emails, hand-back emails and digests (all values from the row)."""
    root = base_url.rstrip("/") if base_url else None
    contract = payload.get("contract")
    as_of = dt.date.fromisoformat(str(payload["as_of"])) if payload.get("as_of") else None
    tasks = [
        {
            **t,
            "stage_words": _words(t.get("stage")),
            "role_words": _words(t.get("role")),
            "due_text": due_text(t.get("due"), as_of),
            "link": f"{root}/contracts/{t['contract']}" if root else None,
        }
        for t in payload.get("tasks", [])
    ]
    changes = [{**c, "field_words": _words(c.get("field"))} for c in payload.get("changes", [])]
    return {
        **payload,
        "headline": TASK_HEADLINES.get(str(payload.get("reason") or level), "A task is yours"),
        "stage_words": _words(payload.get("stage")),
        "from_stage_words": _words(payload.get("from_stage")),
        "role_words": _words(payload.get("role")),
        "due_text": due_text(payload.get("due")),
        "flags": payload.get("flags", []),
        "changes": changes,
        "tasks": tasks,
        "actions": payload.get("actions") or {},
        "link_days": payload.get("link_days", 7),
        "delegated_by": payload.get("delegated_by"),
        "overdue": payload.get("overdue", 0),
        "more": payload.get("more", 0),
        "level": level,
        "link": f"{root}/contracts/{contract}" if root and contract else None,
    }


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
