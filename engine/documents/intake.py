"""A .docx that follows the contract template -> a `Contract`.

Intake reads four tables, found by their header rows wherever they sit in the document:
Key terms (two columns: term, value), Payment schedule, Guarantees and Obligations. The
prose around them is not read: the tables are the contract's data. Every problem is one
line naming the table, the row and the column, e.g.
`draft.docx: Obligations table, row 2 (OB-2), Due date / 期限: '31.02.2027' is not a date`.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from engine.documents import terms as T
from engine.documents.safety import Limits, check_docx
from engine.domain.contract import Contract, cross_field_problems, parse_contract
from engine.errors import InvalidContract

Loc = tuple[str | int, ...]


@dataclass
class _Reading:
    """Raw contract data as read, where each part came from, and the problems so far."""

    source: str
    data: dict[str, Any] = field(default_factory=dict)
    where: dict[Loc, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    reported: set[Loc] = field(default_factory=set)

    def problem(self, place: str, message: str, loc: Loc | None = None) -> None:
        self.problems.append(f"{self.source}: {place}: {message}")
        if loc is not None:
            self.reported.add(loc)

    def place(self, loc: Loc) -> str:
        """The deepest known table location of a field path (or the path itself)."""
        path = tuple(loc)
        while path:
            if path in self.where:
                return self.where[path]
            path = path[:-1]
        return ".".join(str(p) for p in loc) or "document"


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_SKIP = {f"{_W}del", f"{_W}moveFrom", f"{_W}tbl", f"{_W}tcPr", f"{_W}rPr", f"{_W}pPr"}


def _text(element: Any) -> str:
    """The text a reader sees: runs at any depth (tracked insertions, content controls,
    smart tags, field results included); deleted text and nested tables left out."""
    parts: list[str] = []

    def walk(el: Any) -> None:
        for child in el:
            tag = child.tag
            if tag in _SKIP:
                continue
            if tag == f"{_W}t":
                parts.append(child.text or "")
            elif tag == f"{_W}tab":
                parts.append("\t")
            elif tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
            elif tag == f"{_W}p":
                if parts:
                    parts.append("\n")
                walk(child)
            else:
                walk(child)

    walk(element)
    return "".join(parts)


def _rows(tbl: Any) -> list[list[str]]:
    """Cell text row by row; rows and cells inside content controls count too."""
    rows = []
    for tr in tbl.iter(f"{_W}tr"):
        if _owner_table(tr) is not tbl:
            continue
        rows.append([_text(tc).strip() for tc in tr.iter(f"{_W}tc") if _owner_row(tc) is tr])
    return rows


def _owner_table(el: Any) -> Any:
    parent = el.getparent()
    while parent is not None and parent.tag != f"{_W}tbl":
        parent = parent.getparent()
    return parent


def _owner_row(el: Any) -> Any:
    parent = el.getparent()
    while parent is not None and parent.tag != f"{_W}tr":
        parent = parent.getparent()
    return parent


def _inside_cell(tbl: Any) -> bool:
    parent = tbl.getparent()
    while parent is not None:
        if parent.tag == f"{_W}tc":
            return True
        parent = parent.getparent()
    return False


def _classify(header: Sequence[str]) -> str | None:
    if len(header) >= 2 and T.KEY_TERM_HEADER[0].matches(header[0]):
        return "key_terms"
    best: tuple[int, str | None] = (0, None)
    for kind, columns in T.TABLE_SIGNATURES.items():
        if not columns:
            continue
        matched = sum(1 for t in columns if any(t.label.matches(h) for h in header))
        required = all(any(t.label.matches(h) for h in header) for t in columns if t.required)
        if required and matched > best[0]:
            best = (matched, kind)
    return best[1]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _loc(path: str) -> Loc:
    return tuple(path.split("."))


def _read_key_terms(reading: _Reading, rows: list[list[str]]) -> None:
    name = T.TABLE_NAMES["key_terms"]
    seen: dict[str, int] = {}
    found: dict[str, str] = {}
    header = rows[0]
    column = next((i for i, h in enumerate(header) if T.KEY_TERM_HEADER[1].matches(h)), 1)
    for index, cell in enumerate(header[1:], start=2):
        if cell and index - 1 != column:
            reading.problem(
                f"{name} table, column {index}",
                f"unknown column {cell!r} (known: {T.KEY_TERM_HEADER[0].text}; "
                f"{T.KEY_TERM_HEADER[1].text})",
            )
    for number, row in enumerate(rows[1:], start=1):
        if not any(row):
            continue
        label_cell, value = row[0], (row[column] if len(row) > column else "")
        term = next((t for t in T.KEY_TERMS if t.label.matches(label_cell)), None)
        if term is None:
            known = "; ".join(t.label.en for t in T.KEY_TERMS)
            reading.problem(
                f"{name} table, row {number}", f"unknown term {label_cell!r} (known: {known})"
            )
            continue
        place = f"{name} table, row {number} ({term.label.text})"
        if term.key in seen:
            reading.problem(place, f"repeats row {seen[term.key]}", _loc(term.key))
            continue
        seen[term.key] = number
        found[term.key] = value
        reading.where[_loc(term.key)] = place
    for term in T.KEY_TERMS:
        loc = _loc(term.key)
        if term.key not in found:
            if term.required:
                reading.problem(f"{name} table", f"row {term.label.text!r} is missing", loc)
            continue
        value, problem = T.read(term, found[term.key])
        if problem:
            reading.problem(reading.where[loc], problem, loc)
        elif value is not None:
            _set(reading.data, term.key, value)


def _read_items(
    reading: _Reading, kind: str, rows: list[list[str]], loc_prefix: Loc
) -> list[dict[str, Any]]:
    name = T.TABLE_NAMES[kind]
    columns = T.TABLE_SIGNATURES[kind]
    header = rows[0]
    column_terms: list[T.Term | None] = []
    for index, cell in enumerate(header, start=1):
        term = next((t for t in columns if t.label.matches(cell)), None)
        if term is None and cell:
            known = "; ".join(t.label.text for t in columns)
            reading.problem(
                f"{name} table, column {index}", f"unknown column {cell!r} (known: {known})"
            )
        column_terms.append(term)
    direction = reading.data.get("direction")
    items: list[dict[str, Any]] = []
    for row in rows[1:]:
        if not any(row):
            continue
        index = len(items)
        item: dict[str, Any] = {}
        by_key = {t.key: row[i] for i, t in enumerate(column_terms) if t and i < len(row)}
        ident = by_key.get("id", "")
        row_place = f"{name} table, row {index + 1}" + (f" ({ident})" if ident else "")
        reading.where[(*loc_prefix, index)] = row_place
        for term in columns:
            if term.key in {"no"} or (kind == "schedule" and term.key == "amount"):
                continue  # numbering and the derived amount are shown, not read
            loc = (*loc_prefix, index, term.key)
            place = f"{row_place}, {term.label.text}"
            reading.where[loc] = place
            if term.key not in by_key:
                if term.required:
                    reading.problem(row_place, f"column {term.label.text!r} is missing", loc)
                continue
            value, problem = T.read(term, by_key[term.key], direction)
            if problem:
                reading.problem(place, problem, loc)
            elif value is not None:
                item[term.key] = value
        items.append(item)
    return items


def _message(err: Any) -> str:
    if err["type"] == "missing":
        return "is missing"
    msg = str(err["msg"])
    return msg[0].lower() + msg[1:] if msg else str(err["type"])


def _covered(loc: Loc, reported: set[Loc]) -> bool:
    return any(loc[: len(r)] == r for r in reported)


def _validate(reading: _Reading, currencies: Collection[str] | None) -> Contract | None:
    try:
        contract = parse_contract(reading.data, currencies)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            if err["type"] == "value_error" and loc == ():
                continue
            if not _covered(loc, reading.reported):
                reading.problem(reading.place(loc), _message(err))
        for path, msg in cross_field_problems(reading.data, currencies):
            loc = tuple(
                int(p) if p.isdigit() else p
                for p in path.replace("]", "").replace("[", ".").split(".")
            )
            if not _covered(loc, reading.reported):
                reading.problem(reading.place(loc), msg)
        if not reading.problems:
            reading.problem("document", str(exc).splitlines()[0])
        return None
    return None if reading.problems else contract


def read_docx_tables(content: bytes) -> list[list[list[str]]]:
    """Every table's cell text, row by row, except tables nested in a cell (used by intake and
    by tests). Tables inside content controls count."""
    from docx import Document

    body = Document(io.BytesIO(content)).element.body
    return [_rows(tbl) for tbl in body.iter(f"{_W}tbl") if not _inside_cell(tbl)]


def extract_contract(
    content: bytes,
    source: str,
    *,
    currencies: Collection[str] | None = None,
    limits: Limits | None = None,
) -> Contract:
    """The contract a template-following .docx states; `InvalidContract` lists every problem."""
    check_docx(content, source, limits)
    try:
        tables = read_docx_tables(content)
    except Exception as exc:  # python-docx/lxml raise many kinds on a damaged part
        raise InvalidContract(
            f"{source}: not a readable Word document ({type(exc).__name__}: {exc})"
        ) from None
    reading = _Reading(source)
    by_kind: dict[str, list[list[str]]] = {}
    for number, rows in enumerate(tables, start=1):
        if not rows:
            continue
        kind = _classify(rows[0])
        if kind is None:
            continue
        if kind in by_kind:
            reading.problem(
                f"table {number}", f"a second {T.TABLE_NAMES[kind]} table; keep only one"
            )
            continue
        by_kind[kind] = rows
    if "key_terms" not in by_kind:
        raise InvalidContract(
            f"{source}: no Key terms table (a two-column table headed "
            f"{T.KEY_TERM_HEADER[0].text!r} | {T.KEY_TERM_HEADER[1].text!r}); "
            "start from a document rendered by `contractflow render`"
        )
    _read_key_terms(reading, by_kind["key_terms"])
    reading.where[("payment_terms", "installments")] = f"{T.TABLE_NAMES['schedule']} table"
    reading.where[("guarantees",)] = f"{T.TABLE_NAMES['guarantees']} table"
    reading.where[("obligations",)] = f"{T.TABLE_NAMES['obligations']} table"
    if "schedule" in by_kind:
        installments = _read_items(
            reading, "schedule", by_kind["schedule"], ("payment_terms", "installments")
        )
        if installments:
            reading.data.setdefault("payment_terms", {})["installments"] = installments
    if "guarantees" in by_kind:
        reading.data["guarantees"] = _read_items(
            reading, "guarantees", by_kind["guarantees"], ("guarantees",)
        )
    if "obligations" in by_kind:
        reading.data["obligations"] = _read_items(
            reading, "obligations", by_kind["obligations"], ("obligations",)
        )
    contract = _validate(reading, currencies)
    if contract is None:
        raise InvalidContract(reading.problems)
    return contract
