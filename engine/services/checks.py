"""`rules check` for contracts that arrive as data or uploads (the API), not as files.

The evaluation and its JSON shape are the rules service's (`report_json`); this only
feeds it a contract that is already read, so the CLI and the API print the same thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.domain.contract import Contract
from engine.domain.risk import Severity
from engine.errors import InvalidInput
from engine.services.rules import report_json
from engine.services.runtime import Runtime


def parse_param_values(params: Mapping[str, Any]) -> dict[str, Decimal]:
    """Threshold overrides as decimals; one problem line per value that is not a number."""
    out: dict[str, Decimal] = {}
    problems = []
    for name, value in params.items():
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            out[name] = Decimal(str(value))
        except (InvalidOperation, ValueError):
            problems.append(f"params.{name}: {value!r} is not a number")
    if problems:
        raise InvalidInput(problems)
    return out


def check_contract(
    rt: Runtime,
    contract: Contract,
    as_of: dt.date | None = None,
    params: Mapping[str, Decimal] | None = None,
    fail_on: Severity | None = None,
) -> dict[str, Any]:
    """Evaluate one contract with the rules in force; stores nothing.

    With `fail_on`, the answer also says whether a flag reached that severity (`tripped`),
    which is what `--fail-on` turns into exit code 1 on the command line."""
    from engine.services.register import draft_with_register

    # The stored register's facts (status, limit, the other contracts' exposure): SPEC 7.
    contract = draft_with_register(rt, contract)
    report = rt.evaluator.evaluate([contract], as_of or rt.today(), params or None)[0]
    out = report_json(report)
    if fail_on is not None:
        out["tripped"] = report.max_severity.rank >= fail_on.rank and bool(report.flags)
    return out
