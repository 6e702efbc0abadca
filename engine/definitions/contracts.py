"""Contract files (YAML or JSON) -> `Contract`, with every problem reported at once.

A problem is one line: `FILE: field.path: message (line N)`. Pydantic's field errors and
our cross-field rules are merged so a file with five mistakes is fixed in one round trip.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.definitions.yamlio import LineMap, format_loc, load_data_file
from engine.domain.contract import Contract, cross_field_problems, parse_contract
from engine.errors import InvalidContract, InvalidInput

# Contract files are written once per deal: an anchor/alias there is never needed, and
# refusing them outright closes the "billion laughs" door without any budget to tune.
_WHAT = "contract files"

_MESSAGES = {
    "extra_forbidden": "unknown key (check the spelling; see docs/contract-format.md)",
    "missing": "required",
}


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    msg = str(err["msg"])
    if kind == "enum":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{err.get('input')!r} is not one of {expected}"
    if kind == "string_pattern_mismatch" and err["loc"] and err["loc"][-1] == "currency":
        return f"{err.get('input')!r} is not an ISO 4217 code such as CNY"
    if kind == "string_pattern_mismatch" and err["loc"] and err["loc"][-1] == "country":
        return f"{err.get('input')!r} is not an ISO 3166 alpha-2 code such as CN"
    return msg[0].lower() + msg[1:] if msg else kind


def contract_problems(
    data: Any, lines: LineMap, currencies: Collection[str] | None = None
) -> tuple[Contract | None, list[str]]:
    """Validate raw data; return the contract or every problem as `field.path: message`."""
    if not isinstance(data, Mapping):
        return None, ["(top level): expected a mapping of contract fields"]
    try:
        return parse_contract(data, currencies), []
    except ValidationError as exc:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if err["type"] == "value_error" and loc == ():
                continue  # cross-field rules: reported below from the raw data, one per line
            problems.append((loc, _message(err)))
    seen = {(format_loc(loc), msg) for loc, msg in problems}
    for path, msg in cross_field_problems(data, currencies):
        if (path, msg) not in seen:
            problems.append((_path_to_loc(path), msg))
    out = []
    for loc, msg in problems:
        line = lines.line(loc)
        suffix = f" (line {line})" if line else ""
        out.append(f"{format_loc(loc)}: {msg}{suffix}")
    return None, out


def _path_to_loc(path: str) -> tuple[str | int, ...]:
    loc: list[str | int] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        loc.append(int(part) if part.isdigit() else part)
    return tuple(loc)


def load_contract_text(
    text: str, source: str, currencies: Collection[str] | None = None
) -> Contract:
    """Parse contract text named `source` (its suffix picks JSON or YAML)."""
    try:
        data, lines = load_data_file(Path(source), text, allow_aliases=False, what=_WHAT)
    except InvalidInput as exc:
        raise InvalidContract(exc.problems) from None
    contract, problems = contract_problems(data, lines, currencies)
    if contract is None:
        raise InvalidContract(f"{source}: {p}" for p in problems)
    return contract


def load_contract_file(path: Path, currencies: Collection[str] | None = None) -> Contract:
    """Read one contract file; raises `InvalidContract` listing every problem."""
    try:
        data, lines = load_data_file(path, allow_aliases=False, what=_WHAT)
    except InvalidInput as exc:
        raise InvalidContract(exc.problems) from None
    contract, problems = contract_problems(data, lines, currencies)
    if contract is None:
        raise InvalidContract(f"{path}: {p}" for p in problems)
    return contract
