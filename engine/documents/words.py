"""Words for numbers and places in contract prose (English amount in words, article ordinals,
currency and governing-law names in Chinese)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ["", "thousand", "million", "billion", "trillion", "quadrillion"]

CURRENCY_ZH = {
    "CNY": "人民币",
    "USD": "美元",
    "EUR": "欧元",
    "HKD": "港币",
    "JPY": "日元",
    "GBP": "英镑",
    "SGD": "新加坡元",
}

LAW = {
    "CN": ("中华人民共和国法律", "the laws of the People's Republic of China"),
    "HK": ("香港特别行政区法律", "the laws of the Hong Kong SAR"),
    "SG": ("新加坡法律", "the laws of Singapore"),
    "GB": ("英格兰及威尔士法律", "the laws of England and Wales"),
    "UK": ("英格兰及威尔士法律", "the laws of England and Wales"),
    "US": ("美国纽约州法律", "the laws of the State of New York"),
    "DE": ("德国法律", "the laws of Germany"),
}


def _below_thousand(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
        if n:
            parts.append("and")
    if n >= 20:
        parts.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not parts:
        parts.append(_ONES[n])
    return " ".join(parts)


def number_words(n: int) -> str:
    if n == 0:
        return "zero"
    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    if len(groups) > len(_SCALES):
        return str(n)
    words = [
        f"{_below_thousand(g)} {_SCALES[i]}".strip()
        for i, g in reversed(list(enumerate(groups)))
        if g
    ]
    return " ".join(words)


def amount_words(currency: str, value: Decimal) -> str:
    """`say CNY two million four hundred thousand only` (cents as `and 50/100`)."""
    cents = int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    whole, frac = divmod(cents, 100)
    tail = f" and {frac:02d}/100" if frac else ""
    return f"say {currency} {number_words(whole)}{tail} only"


def chinese_ordinal(n: int) -> str:
    """1 -> 一, 12 -> 十二, 20 -> 二十 (article numbers: 第十二条)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    return str(n)


def law_names(code: str | None) -> tuple[str, str]:
    """(Chinese, English) name of a governing law; PRC law when the contract names none."""
    if code is None:
        return LAW["CN"]
    return LAW.get(code.upper(), (f"{code}法律", f"the laws of {code}"))
