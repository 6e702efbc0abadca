"""The zh-CN catalog: complete, no fuzzy or empty entries, and Babel formatting as promised."""

from __future__ import annotations

import datetime as dt

from babel.messages.pofile import read_po

from engine import i18n


def _catalog():  # type: ignore[no-untyped-def]
    po = i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        return read_po(handle, locale="zh_CN")


def test_every_zh_cn_message_is_translated_and_not_fuzzy() -> None:
    bad = [m.id for m in _catalog() if m.id and (not m.string or m.fuzzy)]
    assert bad == []


def test_contract_buttons_read_as_spec_says_in_zh_cn() -> None:
    with i18n.use_language("zh-CN"):
        assert [i18n.gettext(w) for w in ("Approve", "Reject", "Request changes")] == [
            "批准",
            "驳回",
            "要求修改",
        ]
    assert i18n.gettext("Approve") == "Approve"


def test_zh_cn_amounts_and_dates_use_babel_forms() -> None:
    assert i18n.format_money(2400000, "CNY", "zh-CN") == "¥2,400,000.00"
    assert i18n.format_money(1000, "USD", "zh-CN") == "1,000.00 USD"
    assert i18n.format_money(2400000, "CNY", "en") == "2,400,000.00 CNY"
    assert i18n.format_day(dt.date(2027, 3, 1), "zh-CN") == "2027年3月1日"


def test_language_choice_order_user_then_accept_language_then_default() -> None:
    assert i18n.choose_language("zh-CN", "en-US,en", "en") == "zh-CN"
    assert i18n.choose_language(None, "zh-CN,zh;q=0.9,en;q=0.8", "en") == "zh-CN"
    assert i18n.choose_language(None, "fr-FR, en;q=0.5", "zh-CN") == "en"
    assert i18n.choose_language(None, None, "zh-CN") == "zh-CN"
    assert i18n.choose_language(None, "de", None) == "en"


def test_per_language_labels_fall_back_to_english() -> None:
    label = {"en": "Legal review", "zh-CN": "法务审核"}
    assert i18n.pick(label, "zh-CN") == "法务审核"
    assert i18n.pick({"en": "Legal review"}, "zh-CN") == "Legal review"
    assert i18n.pick("Legal review", "zh-CN") == "Legal review"
