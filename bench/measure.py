"""Small helpers shared by the benchmarks: percentiles, tables, load, the risk backend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(value: float) -> str:
    """Seconds as milliseconds for a table cell."""
    return "-" if math.isnan(value) else f"{value * 1000:.1f}"


def ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def load() -> str:
    """The load averages as `uptime` prints them (others share these 2 cores)."""
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return "?"
    return f"{one} {five} {fifteen}"


def risk_backend() -> tuple[str, str]:
    """The risk backend the benchmarks score with, and why.

    `python` unless `CONTRACTFLOW_BENCH_RISK_BACKEND=durable`: scoring is one call per
    submit either way (the rules issue has its own benchmark), and on this shared machine
    a durable_rules worker sometimes missed its start timeout under load (load > 8),
    which would end a 20-minute run for a reason that is not the workflow's.
    """
    import os

    chosen = os.environ.get("CONTRACTFLOW_BENCH_RISK_BACKEND", "python")
    if chosen not in ("python", "durable"):
        raise ValueError("CONTRACTFLOW_BENCH_RISK_BACKEND must be python or durable")
    why = (
        "set by CONTRACTFLOW_BENCH_RISK_BACKEND"
        if "CONTRACTFLOW_BENCH_RISK_BACKEND" in os.environ
        else "the benchmark default; CONTRACTFLOW_BENCH_RISK_BACKEND=durable measures "
        "the product default"
    )
    return chosen, why
