"""Reading contract drafts (checked against the configured currencies)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.definitions.contracts import load_contract_file
from engine.domain.agreement import term_warnings
from engine.domain.contract import Contract
from engine.errors import InvalidInput
from engine.services.runtime import Runtime


def read_contract(rt: Runtime, path: Path) -> Contract:
    """A contract file checked against the currencies in config/risk.yaml.

    A Word draft (.docx) goes through document intake (safety checks, then its tables).
    """
    from engine.services.documents import is_docx_path, read_docx_contract

    if is_docx_path(path):
        return read_docx_contract(rt, path)
    return load_contract_file(path, rt.risk_config.currencies)


def validate_files(rt: Runtime, paths: Sequence[Path], stdin_text: str | None = None) -> list[str]:
    """Every problem in every file, one line each (`FILE: field.path: message`)."""
    return check_files(rt, paths, stdin_text)[0]


def check_files(
    rt: Runtime, paths: Sequence[Path], stdin_text: str | None = None
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of every file, one line each: `FILE: field.path: message`, a
    warning ending in its name (`[payments_do_not_add_up]`; docs/contract-format.md). A
    path of `-` is `stdin_text` (YAML or JSON: JSON is YAML too), named `-` in the messages."""
    from engine.definitions.contracts import load_contract_text

    errors: list[str] = []
    warnings: list[str] = []
    for path in paths:
        try:
            if str(path) == "-":
                contract = load_contract_text(stdin_text or "", "-", rt.risk_config.currencies)
            else:
                contract = read_contract(rt, path)
        except InvalidInput as exc:
            errors.extend(exc.lines())
            continue
        data = contract.model_dump(mode="python")
        warnings.extend(f"{path}: {w.line()}" for w in term_warnings(data))
    return errors, warnings
