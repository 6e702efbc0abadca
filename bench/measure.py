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


def usable_risk_backend() -> tuple[str, str]:
    """The configured risk backend if it evaluates a contract, else `python` (with why)."""
    from engine.definitions.contracts import load_contract_file
    from engine.risk.factory import make_evaluator
    from engine.services.runtime import Runtime
    from engine.settings import PROJECT_ROOT, Settings

    settings = Settings(database_url="sqlite://")
    if settings.risk_backend == "python":
        return "python", ""
    rt = Runtime(settings)
    try:
        from engine.services.rules import folder_rules

        evaluator = make_evaluator(settings, rt.risk_config, folder_rules(rt))
        try:
            contract = load_contract_file(PROJECT_ROOT / "examples" / "SC-2026-0042.yaml")
            evaluator.evaluate([contract], rt.today())
        finally:
            evaluator.close()
    except Exception as exc:
        return "python", f"the {settings.risk_backend} backend failed here ({exc}); "
    finally:
        rt.close()
    return settings.risk_backend, ""
