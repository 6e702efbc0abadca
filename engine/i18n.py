"""Languages: gettext catalogs (Babel), the language a reader gets, and Babel formatting.

The people this product is for read English (`en`) or Simplified Chinese (`zh-CN`). Messages
live in `engine/locale/<locale>/LC_MESSAGES/messages.po`; the catalog is read from the `.po`
file when first needed (no compile step, so an editable checkout and a wheel behave the
same). English is the source language: its "catalog" is the identity.

The language of the page or email being produced sits in a context variable
(`use_language`), so `gettext` in Python code and `{{ _("...") }}` / `{% trans %}` in the
Jinja2 templates (engine.web.templating, engine.notify.render) read the same one without
passing it through every call. The command line never sets it: the CLI stays English.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import gettext as _gettext
import io
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency as _babel_currency

#: The languages the app speaks, as users, settings and `Accept-Language` name them.
LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")


def normalise(code: str | None) -> str | None:
    """`zh-cn`, `zh_CN`, `zh-Hans`, `zh` -> `zh-CN`; `en-GB` -> `en`; anything else None."""
    if not code:
        return None
    text = code.strip().replace("_", "-").lower()
    if text == "zh" or text.startswith(("zh-cn", "zh-hans", "zh-sg")):
        return "zh-CN"
    if text == "en" or text.startswith("en-"):
        return "en"
    return None


def language_problems(code: str | None, field: str = "--language") -> list[str]:
    """A language given on the command line or a form: one line when it is not one we speak."""
    if code is None or normalise(code) is not None:
        return []
    return [f"{field}: {code!r} is not a language contractflow speaks (en or zh-CN)"]


def from_accept_language(header: str | None) -> str | None:
    """The best language we speak from an `Accept-Language` header (q-values honoured)."""
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        found = normalise(tag)
        if found is not None and quality > 0:
            choices.append((-quality, index, found))
    return min(choices)[2] if choices else None


def choose_language(
    user_setting: str | None, accept_language: str | None, default: str | None
) -> str:
    """The user's own setting, else the browser's `Accept-Language`, else the default."""
    return (
        normalise(user_setting)
        or from_accept_language(accept_language)
        or normalise(default)
        or DEFAULT_LANGUAGE
    )


def babel_locale(language: str) -> str:
    return "zh_CN" if normalise(language) == "zh-CN" else "en"


@lru_cache(maxsize=4)
def translations(language: str) -> _gettext.NullTranslations:
    """The catalog for a language, compiled in memory from its `.po` file (cached)."""
    locale = babel_locale(language)
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == "en" or not po.is_file():
        return _gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def current_language() -> str:
    return _current.get()


def set_language(language: str | None) -> contextvars.Token[str]:
    return _current.set(normalise(language) or DEFAULT_LANGUAGE)


@contextlib.contextmanager
def use_language(language: str | None) -> Iterator[str]:
    """Produce a page or an email in `language` (restored afterwards)."""
    token = set_language(language)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    """`message` in the current language (English when the catalog has no translation)."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get()).pgettext(context, message)


_ = gettext


def pick(value: Any, language: str | None = None) -> str:
    """A per-language value from a workflow or rule file (`{en: ..., zh-CN: ...}`) in the
    current language, falling back to English; a plain string is that string."""
    if value is None:
        return ""
    if isinstance(value, dict):
        wanted = normalise(language) or _current.get()
        for key, text in value.items():
            if normalise(str(key)) == wanted and text:
                return str(text)
        for key, text in value.items():
            if normalise(str(key)) == "en" and text:
                return str(text)
        return str(next(iter(value.values()), ""))
    return str(value)


#: Codes pages and emails show (stages, roles, severities, categories) in Chinese; other
#: codes read as words (`legal_review` -> `legal review`) in both languages.
CODE_WORDS_ZH = {
    # stages
    "draft": "起草",
    "drafting": "起草",
    "legal_review": "法务审核",
    "risk_review": "风险审核",
    "finance_review": "财务审核",
    "signing": "签署",
    "fulfilment": "履约",
    "fulfillment": "履约",
    "evaluation": "履约评价",
    "revise": "修改",
    "done": "已完成",
    "completed": "已完成",
    "rejected": "已驳回",
    "withdrawn": "已撤回",
    "terminated": "已终止",
    "expired": "已到期",
    "amendment_review": "变更审核",
    # roles
    "contract_admin": "合同管理员",
    "contract_manager": "合同经理",
    "legal": "法务",
    "finance": "财务",
    "risk": "风控",
    "signer": "签署人",
    "admin": "系统管理员",
    # severities
    "none": "无",
    "low": "低",
    "medium": "中",
    "high": "高",
    "critical": "严重",
    # categories and alert levels
    "payment": "付款条件",
    "payment_terms": "付款条件",
    "guarantee": "担保",
    "guarantees": "担保",
    "obligation": "履约义务",
    "obligations": "履约义务",
    "overdue": "逾期",
    "due_soon": "即将到期",
    "overdue_high": "逾期（高）",
    "overdue_critical": "逾期（严重）",
    "renewal_notice": "续约通知",
    "counterparty": "相对方",
    "compliance": "合规",
    "liability": "责任",
    "termination": "终止",
    "sales": "销售",
    "purchase": "采购",
    # task outcomes and statuses
    "approve": "批准",
    "approved": "已批准",
    "reject": "驳回",
    "request_changes": "要求修改",
    "changes_requested": "已要求修改",
    "open": "待处理",
    "closed": "已关闭",
    "active": "生效中",
    "pending": "待处理",
    "sent": "已发送",
    "failed": "发送失败",
    "queued": "待发送",
    "deferred": "已推迟",
}


def code_words(code: Any, language: str | None = None) -> str:
    """A code (stage, role, severity, category) as the reader's language says it."""
    text = str(code or "")
    if (normalise(language) or _current.get()) == "zh-CN" and text in CODE_WORDS_ZH:
        return CODE_WORDS_ZH[text]
    return text.replace("_", " ")


def format_money(value: Any, currency: str | None = None, language: str | None = None) -> str:
    """zh-CN: `¥2,400,000.00` for CNY, `US$1,000.00` style (Babel) for others; English keeps
    the contract's way of writing it: `2,400,000.00 CNY`."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    lang = normalise(language) or _current.get()
    if lang == "zh-CN" and currency:
        if currency.upper() == "CNY":
            return _babel_currency(amount, "CNY", format="¤#,##0.00", locale="zh_CN")
        return _babel_currency(
            amount, currency.upper(), format="#,##0.00 ¤¤", locale="zh_CN", currency_digits=False
        )
    text = f"{amount:,.2f}"
    return f"{text} {currency}" if currency else text


def format_day(value: dt.date, language: str | None = None) -> str:
    """zh-CN: `2027年3月1日` (Babel's long date); English: ISO `2027-03-01`."""
    if (normalise(language) or _current.get()) == "zh-CN":
        return _babel_date(value, format="long", locale="zh_CN")
    return value.isoformat()


def locale_for(language: str | None) -> Locale:
    return Locale.parse(babel_locale(language or _current.get()))
