"""Server-rendered SVG charts: horizontal bars with the number beside every bar.

No JavaScript and no chart library: the page is readable as delivered, the numbers are
printed (and repeated in a `<title>` so they show on hover), and colours come from CSS
classes so the stylesheet owns the palette.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

ROW = 24
BAR = 18
LABEL_MIN_W = 80
BAR_W = 190
NUM_W = 70
#: Advance widths at the chart's 12px font: generous for Latin text, a full em for CJK, so
#: the longest label ("procurement review", "采购审核") is never cut off at the left edge.
LATIN_W = 7.2
WIDE_W = 12.5


def label_width(labels: Sequence[str]) -> int:
    """The label column's width: the longest label's estimated width plus a margin."""
    widest = max(
        (sum(WIDE_W if ord(ch) > 0x2E80 else LATIN_W for ch in text) for text in labels),
        default=0.0,
    )
    return max(LABEL_MIN_W, int(widest) + 16)


def _frame(rows: int, title: str, body: list[str], label_w: int, legend: str = "") -> Markup:
    height = max(rows, 1) * ROW + 8
    width = label_w + BAR_W + NUM_W
    svg = (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )
    return Markup(svg + legend)  # noqa: S704 - every interpolated text is escaped above


def bar_chart(
    items: Sequence[tuple[str, Any, str]], title: str, empty: str = "nothing to show"
) -> Markup:
    """One bar per (label, value, css class)."""
    if not items:
        return Markup('<p class="empty">{}</p>').format(empty)
    top = max((v for _, v, _ in items), default=0) or 1
    LABEL_W = label_width([label for label, _, _ in items])
    body = []
    for i, (label, value, css) in enumerate(items):
        y = i * ROW + 4
        w = round(BAR_W * value / top) if value else 0
        tip = escape(f"{label}: {value}")
        body.append(
            f'<g class="row"><title>{tip}</title>'
            f'<text class="label" x="{LABEL_W - 8}" y="{y + 13}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar {escape(css)}" x="{LABEL_W}" y="{y}" width="{max(w, 1)}" '
            f'height="{BAR}" rx="2"/>'
            f'<text class="num" x="{LABEL_W + w + 6}" y="{y + 13}">{value}</text></g>'
        )
    return _frame(len(items), title, body, LABEL_W)


def stacked_bar_chart(
    rows: Sequence[tuple[str, Sequence[tuple[str, int]]]], title: str, empty: str = "nothing"
) -> Markup:
    """One bar per row, split into (css class / series, value) segments; total beside it."""
    if not rows:
        return Markup('<p class="empty">{}</p>').format(empty)
    top = max((sum(v for _, v in segs) for _, segs in rows), default=0) or 1
    LABEL_W = label_width([label for label, _ in rows])
    series: list[str] = []
    body = []
    for i, (label, segments) in enumerate(rows):
        y = i * ROW + 4
        x = float(LABEL_W)
        total = sum(v for _, v in segments)
        parts = [
            f'<text class="label" x="{LABEL_W - 8}" y="{y + 13}" text-anchor="end">'
            f"{escape(label)}</text>"
        ]
        for name, value in segments:
            if name not in series:
                series.append(name)
            if not value:
                continue
            w = BAR_W * value / top
            parts.append(
                f'<rect class="bar {escape(name)}" x="{x:.1f}" y="{y}" width="{w:.1f}" '
                f'height="{BAR}"><title>{escape(f"{label}, {name}: {value}")}</title></rect>'
            )
            x += w
        detail = ", ".join(f"{n} {v}" for n, v in segments if v)
        parts.append(
            f'<text class="num" x="{x + 6:.1f}" y="{y + 13}">{total}'
            f"<title>{escape(detail)}</title></text>"
        )
        body.append(
            f'<g class="row"><title>{escape(f"{label}: {detail}")}</title>{"".join(parts)}</g>'
        )
    legend = (
        '<p class="legend">'
        + " ".join(f'<span class="key {escape(s)}"></span>{escape(s)}' for s in series)
        + "</p>"
    )
    return _frame(len(rows), title, body, LABEL_W, legend)
