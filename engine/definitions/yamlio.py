"""YAML reading that keeps line numbers, shared by every definition loader.

ruamel's round-trip loader remembers where each key and item sits; we convert its nodes
to plain Python (floats become `Decimal` from their written text, so `0.05` stays exact)
and keep a `LineMap` from field paths to 1-based line numbers for error messages.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine import yamlsafe
from engine.errors import InvalidInput

Loc = tuple[str | int, ...]


class LineMap:
    """Field path -> line of the value (or of its key) in the source file."""

    def __init__(self) -> None:
        self._lines: dict[Loc, int] = {}

    def set(self, loc: Loc, line: int) -> None:
        self._lines.setdefault(loc, line)

    def line(self, loc: Sequence[str | int]) -> int | None:
        """The line of the deepest known prefix of `loc` (a missing key points at its parent)."""
        path = tuple(loc)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return self._lines.get((), None)


def format_loc(loc: Sequence[str | int]) -> str:
    """('obligations', 1, 'due') -> 'obligations[1].due'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _plain(node: Any, loc: Loc, lines: LineMap) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key in node:
            try:
                line = node.lc.key(key)[0] + 1
            except (KeyError, TypeError):
                line = None
            if line is not None:
                lines.set((*loc, str(key)), line)
            out[str(key)] = _plain(node[key], (*loc, str(key)), lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, item in enumerate(node):
            with contextlib.suppress(KeyError, TypeError, IndexError):
                lines.set((*loc, i), node.lc.item(i)[0] + 1)
            items.append(_plain(item, (*loc, i), lines))
        return items
    if isinstance(node, float):
        # repr is the shortest text that reads back as the same float: 0.05 -> Decimal("0.05").
        return Decimal(repr(float(node)))
    if isinstance(node, dt.datetime):
        return node
    if isinstance(node, str):
        return str(node)
    return node


def _text_dates_constructor() -> Any:
    """Dates stay text so pydantic validates them and names the field (2026-13-01 is an
    error in the `start_date` field, not a crash in the YAML parser)."""
    from ruamel.yaml.constructor import RoundTripConstructor

    class TextDates(RoundTripConstructor):
        pass

    TextDates.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda self, node: self.construct_scalar(node)
    )
    return TextDates


def load_yaml_text(
    text: str, source: str, *, allow_aliases: bool = True, what: str = "YAML"
) -> tuple[Any, LineMap]:
    """Parse YAML within `engine.yamlsafe`'s bounds (size, depth, alias expansion); a
    syntax error or a refused document becomes one `source:line: message` problem."""
    doc = yamlsafe.load(
        text,
        source,
        constructor=_text_dates_constructor(),
        allow_aliases=allow_aliases,
        what=what,
    )
    lines = LineMap()
    lines.set((), 1)
    return _plain(doc, (), lines), lines


def load_json_text(text: str, source: str) -> tuple[Any, LineMap]:
    """Parse JSON with `Decimal` numbers; a syntax error names the line.

    JSON has no aliases, but it nests: the same size and depth bounds as YAML apply
    (`[[[[...` a hundred thousand deep would otherwise end in a RecursionError)."""
    if len(text) > yamlsafe.MAX_CHARS:
        raise InvalidInput(
            f"{source}: JSON document is {len(text)} characters, "
            f"over the limit of {yamlsafe.MAX_CHARS}"
        )
    too_deep = f"{source}: JSON nested too deeply (limit {yamlsafe.MAX_DEPTH} levels)"
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise InvalidInput(too_deep) from None
    if yamlsafe.depth(data) > yamlsafe.MAX_DEPTH:
        raise InvalidInput(too_deep)
    return data, LineMap()


def read_text(path: Path, max_bytes: int = 5 * 1024 * 1024) -> str:
    """Read a definition file as UTF-8, refusing what is missing, huge or binary."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    if size > max_bytes:
        raise InvalidInput(f"{path}: file is {size} bytes, more than the limit of {max_bytes}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None


def load_data_file(
    path: Path, text: str | None = None, *, allow_aliases: bool = True, what: str = "YAML"
) -> tuple[Any, LineMap]:
    """Load YAML or JSON by extension (.json is JSON, anything else YAML)."""
    text = read_text(path) if text is None else text
    if path.suffix.lower() == ".json":
        return load_json_text(text, str(path))
    return load_yaml_text(text, str(path), allow_aliases=allow_aliases, what=what)
