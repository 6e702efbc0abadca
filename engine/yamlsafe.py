"""Bounded YAML parsing: every YAML file contractflow reads goes through `load`.

YAML can describe far more data than it spells out. A 2 KB "billion laughs" file nests
anchors and aliases (`b: [*a, *a, ...]`, `c: [*b, *b, ...]`) so that a loader that copies
the tree (ours does, to keep line numbers) builds 10^9 values; `&a [*a]` is a cycle that
never ends; `[[[[...]]]]` ten thousand deep overflows the Python stack. Before anything is
built we therefore refuse, each with one `source:line: ...` line:

- text longer than `MAX_CHARS` (a definition or contract file is a few KB);
- nesting deeper than `MAX_DEPTH` (ruamel's composer counts it as it goes);
- any alias at all where the caller says aliases make no sense (contract files), and
  elsewhere aliases that expand the document past `MAX_NODES` values, or refer to
  themselves. The expansion is counted on the composed node graph, where an alias is a
  shared node, so the count itself costs no more than the file's size.

This module sits with the core (it imports only ruamel and `engine.errors`) so that the
definitions and the document templates share it.
"""

from __future__ import annotations

from typing import Any

from engine.errors import InvalidInput

MAX_CHARS = 2 * 1024 * 1024
MAX_DEPTH = 50
MAX_NODES = 100_000


def load(
    text: str,
    source: str,
    *,
    typ: str = "rt",
    constructor: Any = None,
    allow_aliases: bool = True,
    what: str = "YAML",
) -> Any:
    """Parse one YAML document within the bounds above; raise `InvalidInput` otherwise.

    `constructor` replaces ruamel's constructor class (the definitions keep dates as
    text); `what` names the kind of file in the alias refusal ("contract files")."""
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import MaxDepthExceededError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if len(text) > MAX_CHARS:
        raise InvalidInput(
            f"{source}: YAML document is {len(text)} characters, over the limit of {MAX_CHARS}"
        )
    yaml = YAML(typ=typ, pure=True)
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH
    yaml.Composer = _bounded_composer(source, allow_aliases, what)
    from ruamel.yaml.scanner import Scanner

    yaml.Scanner = _bounded_scanner(yaml.Scanner or Scanner, source)
    if constructor is not None:
        yaml.Constructor = constructor
    try:
        return yaml.load(text)
    except InvalidInput:
        raise  # our own refusals, raised from inside the composer
    except MaxDepthExceededError as exc:
        raise _too_deep(source, _line(exc)) from None
    except MarkedYAMLError as exc:
        problem = (exc.problem or exc.context or "malformed YAML").strip()
        raise InvalidInput(f"{source}:{_line(exc)}: malformed YAML: {problem}") from None
    except YAMLError as exc:
        raise InvalidInput(f"{source}: malformed YAML: {exc}") from None
    except (ValueError, TypeError) as exc:  # a scalar ruamel could not build
        raise InvalidInput(f"{source}: malformed YAML: {exc}") from None
    except RecursionError:  # belt and braces: the depth limits should stop this first
        raise _too_deep(source, "?") from None


def _line(exc: Any) -> int | str:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else "?"


def _too_deep(source: str, line: int | str) -> InvalidInput:
    return InvalidInput(f"{source}:{line}: YAML nested too deeply (limit {MAX_DEPTH} levels)")


def _bounded_scanner(base: Any, source: str) -> Any:
    """Stop at the bracket that opens one flow level too many.

    The composer's depth check comes too late for `[[[[...`: ruamel's scanner keeps a
    possible simple key per open bracket and rescans them for every token, so ten thousand
    brackets cost seconds before the composer sees the first node."""

    class BoundedScanner(base):
        def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
            if len(self.flow_context) >= MAX_DEPTH:
                raise _too_deep(source, self.reader.get_mark().line + 1)
            super().fetch_flow_collection_start(TokenClass, to_push)

    return BoundedScanner


def _bounded_composer(source: str, allow_aliases: bool, what: str) -> Any:
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.events import AliasEvent

    class BoundedComposer(Composer):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if not allow_aliases and self.parser.check_event(AliasEvent):
                event = self.parser.peek_event()
                raise InvalidInput(
                    f"{source}:{event.start_mark.line + 1}: YAML aliases (*{event.anchor}) "
                    f"are not allowed in {what}; write the value out"
                )
            return super().compose_node(parent, index)

        def compose_document(self) -> Any:
            node = super().compose_document()
            _check_expansion(node, source)
            return node

    return BoundedComposer


def _children(node: Any) -> list[Any]:
    value = node.value
    if not isinstance(value, list):
        return []  # a scalar
    out: list[Any] = []
    for item in value:
        if isinstance(item, tuple):  # a mapping's (key, value) pair
            out.extend(item)
        else:
            out.append(item)
    return out


def _check_expansion(root: Any, source: str) -> None:
    """Refuse a node graph whose aliases expand it past MAX_NODES values, or that loops.

    Post-order walk with memoised subtree sizes (capped at MAX_NODES + 1, so the numbers
    stay small however hard a file tries)."""
    if root is None:
        return
    cap = MAX_NODES + 1
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = min(cap, 1 + sum(sizes[id(c)] for c in _children(node)))
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise InvalidInput(
                f"{source}:{node.start_mark.line + 1}: YAML alias refers to itself "
                "(a recursive structure); refused"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    if sizes[id(root)] >= cap:
        raise InvalidInput(
            f"{source}: YAML aliases expand to more than {MAX_NODES} values "
            "(an alias bomb?); refused"
        )


def depth(data: Any) -> int:
    """How deeply plain data (dicts and lists, e.g. parsed JSON) nests; iterative, so a
    structure too deep for the Python stack is measured rather than crashed on."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((c, level + 1) for c in children)
    return deepest
