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
    """(Chinese, English) name of a governing law; PRC law when the contract names none.

    A known code (`CN`) is rendered as its names; anything else is the contract's own words
    and is rendered as written, in both languages: never a code's name and the words both
    (`中华人民共和国法律` must not become `中华人民共和国法律法律`)."""
    if code is None:
        return LAW["CN"]
    text = code.strip()
    known = LAW.get(text)
    if known is not None:
        return known
    for names in LAW.values():  # the name itself, as a Word draft may spell it
        if text in names:
            return names
    return text, text


def law_label(code: str) -> str:
    """The Key terms cell: `中华人民共和国法律 / the laws of the People's Republic of China`."""
    zh, en = law_names(code)
    return zh if zh == en else f"{zh} / {en}"


def law_code(cell: str) -> str:
    """A Key terms cell read back: a known law's names give its code; else the text."""
    text = cell.strip()
    for code, (zh, en) in LAW.items():
        if code == "UK":
            continue  # an alias of GB
        if text in (code, zh, en, f"{zh} / {en}"):
            return code
    return text


#: Countries by ISO 3166 code: (Chinese, English) names for the documents. A code not
#: listed is printed as the code.
COUNTRIES = {
    "CN": ("中国", "China"),
    "HK": ("中国香港", "Hong Kong, China"),
    "MO": ("中国澳门", "Macao, China"),
    "TW": ("中国台湾", "Taiwan, China"),
    "SG": ("新加坡", "Singapore"),
    "JP": ("日本", "Japan"),
    "KR": ("韩国", "Republic of Korea"),
    "VN": ("越南", "Viet Nam"),
    "TH": ("泰国", "Thailand"),
    "MY": ("马来西亚", "Malaysia"),
    "ID": ("印度尼西亚", "Indonesia"),
    "IN": ("印度", "India"),
    "AE": ("阿联酋", "United Arab Emirates"),
    "SA": ("沙特阿拉伯", "Saudi Arabia"),
    "RU": ("俄罗斯", "Russia"),
    "DE": ("德国", "Germany"),
    "FR": ("法国", "France"),
    "IT": ("意大利", "Italy"),
    "ES": ("西班牙", "Spain"),
    "NL": ("荷兰", "Netherlands"),
    "CH": ("瑞士", "Switzerland"),
    "GB": ("英国", "United Kingdom"),
    "US": ("美国", "United States"),
    "CA": ("加拿大", "Canada"),
    "BR": ("巴西", "Brazil"),
    "AU": ("澳大利亚", "Australia"),
}


def country_label(code: str) -> str:
    """`CN` -> `中国 / China`; an unlisted code as it is."""
    names = COUNTRIES.get(code.upper())
    return f"{names[0]} / {names[1]}" if names else code


def country_code(cell: str) -> str:
    text = cell.strip()
    for code, (zh, en) in COUNTRIES.items():
        if text in (code, zh, en, f"{zh} / {en}"):
            return code
    return text
