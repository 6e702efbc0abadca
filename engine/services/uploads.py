"""Contract drafts that arrive as uploads (web form or API): size and type checked first.

An upload is refused, before any parser sees it, when it is larger than
`settings.upload_max_bytes` (413), when its name does not end in a contract file type we
read (.yaml, .yml, .json, .docx), or when a text format is not UTF-8 text. Then the same
reader as `contractflow submit FILE` checks it, so a file refused on the command line is
refused here with the same lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from engine.definitions.contracts import contract_problems, load_contract_text
from engine.definitions.yamlio import LineMap
from engine.domain.contract import Contract
from engine.errors import InvalidContract, InvalidInput, TooLarge
from engine.services.runtime import Runtime

TEXT_TYPES = (".yaml", ".yml", ".json")
DOCX_TYPES = (".docx",)
ACCEPTED = TEXT_TYPES + DOCX_TYPES


def _safe_name(filename: str | None) -> str:
    """The file's base name only (browsers may send a path); never empty."""
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    return name[:200] or "upload"


def read_upload(rt: Runtime, filename: str | None, content: bytes) -> tuple[Contract, str]:
    """(contract, source name) from an uploaded file; raises with one line per problem."""
    name = _safe_name(filename)
    limit = rt.settings.upload_max_bytes
    if len(content) > limit:
        raise TooLarge(f"{name}: the file is {len(content)} bytes, over the limit of {limit}")
    if not content:
        raise InvalidInput(f"{name}: the file is empty")
    suffix = PurePath(name).suffix.lower()
    if suffix not in ACCEPTED:
        raise InvalidInput(f"{name}: not a contract file type; upload .yaml, .yml, .json or .docx")
    currencies = rt.risk_config.currencies
    if suffix in DOCX_TYPES:
        from engine.services.documents import extract_upload

        return extract_upload(rt, content, name), name
    if b"\x00" in content:
        raise InvalidInput(f"{name}: not a text file (a {suffix} contract is UTF-8 text)")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: not UTF-8 text (byte {exc.start})") from None
    return load_contract_text(text, name, currencies), name


def read_data(rt: Runtime, data: Mapping[str, Any], source: str = "request") -> Contract:
    """A contract sent as JSON data (the API's submit body), checked like a file."""
    contract, problems = contract_problems(data, LineMap(), rt.risk_config.currencies)
    if contract is None:
        raise InvalidContract(f"{source}: {p}" for p in problems)
    return contract
