"""Amounts in Chinese capital numerals (大写金额), as Chinese contracts and invoices state them.

Writing the sum in words beside the figures is how a Chinese contract guards against a
digit being altered; 2,400,000.00 reads 贰佰肆拾万元整.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ["", "拾", "佰", "仟"]
_BIG_UNITS = ["", "万", "亿", "万亿"]


def _four(group: int) -> str:
    """0..9999 in capitals, with inner zeros collapsed (1005 -> 壹仟零伍)."""
    out = ""
    zero = False
    for pos in range(3, -1, -1):
        digit = group // 10**pos % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _SMALL_UNITS[pos]
    return out


def capital_amount(value: Decimal) -> str:
    """The amount in 大写 with 元/角/分 (整 when there are no fractions)."""
    cents = int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if cents < 0:
        return "负" + capital_amount(-value)
    yuan, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    groups: list[int] = []
    while yuan:
        yuan, group = divmod(yuan, 10000)
        groups.append(group)
    text = ""
    need_zero = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            need_zero = bool(text)
            continue
        if text and (need_zero or group < 1000):
            text += "零"
        text += _four(group) + _BIG_UNITS[index % len(_BIG_UNITS)]
        need_zero = False
    if text:
        text += "元"
    if jiao == 0 and fen == 0:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return text
