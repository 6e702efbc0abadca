"""Term-by-term comparison of two revisions of a contract.

Scalar terms compare by field; instalments by position (their order is their meaning);
guarantees and obligations by id, so inserting an obligation shows as one addition and
not as every later row changing. Values are kept typed for JSON and shown with the same
cell text the contract document uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.documents import labels as L
from engine.documents import terms as T
from engine.domain.contract import Contract


@dataclass(frozen=True)
class Change:
    term: str  # field path, e.g. payment_terms.net_days or obligations[OB-2].due
    label: str  # bilingual label a reader understands
    change: str  # changed | added | removed
    old: Any
    new: Any
    old_text: str
    new_text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "label": self.label,
            "change": self.change,
            "from": self.old,
            "to": self.new,
        }


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _scalar(term: T.Term, path: str, label: str, old: Any, new: Any) -> Change | None:
    if old == new:
        return None
    kind = (
        "changed" if old is not None and new is not None else "added" if old is None else "removed"
    )
    return Change(path, label, kind, old, new, T.show(term, old), T.show(term, new))


def _summary(item: dict[str, Any], columns: tuple[T.Term, ...], direction: str) -> str:
    parts = []
    for term in columns:
        if term.key in {"no"} or item.get(term.key) in (None, ""):
            continue
        value = item[term.key]
        if term.kind == "party":
            parts.append(L.party_label(getattr(value, "value", value), direction).en)
        else:
            parts.append(T.show(term, value))
    return "; ".join(parts)


def _items(
    name: str,
    columns: tuple[T.Term, ...],
    old_items: list[dict[str, Any]],
    new_items: list[dict[str, Any]],
    key: str | None,
    directions: tuple[str, str],
) -> list[Change]:
    title = T.TABLE_NAMES[name]
    if key is None:
        old_map = {str(i + 1): it for i, it in enumerate(old_items)}
        new_map = {str(i + 1): it for i, it in enumerate(new_items)}
    else:
        old_map = {str(it[key]): it for it in old_items}
        new_map = {str(it[key]): it for it in new_items}
    path_base = "payment_terms.installments" if name == "schedule" else name
    order = list(old_map) + [k for k in new_map if k not in old_map]
    changes: list[Change] = []
    for ident in order:
        path = f"{path_base}[{ident}]"
        label_base = f"{title} {'#' + ident if key is None else ident}"
        before, after = old_map.get(ident), new_map.get(ident)
        if before is None or after is None:
            item = after if before is None else before
            assert item is not None
            text = _summary(item, columns, directions[1 if before is None else 0])
            changes.append(
                Change(
                    path,
                    label_base,
                    "added" if before is None else "removed",
                    before,
                    after,
                    "" if before is None else text,
                    text if before is None else "",
                )
            )
            continue
        for term in columns:
            if term.key in {"no"} or (name == "schedule" and term.key == "amount"):
                continue
            old, new = before.get(term.key), after.get(term.key)
            if old == new:
                continue
            if term.kind == "party":
                old_t = L.party_label(str(getattr(old, "value", old)), directions[0]).text
                new_t = L.party_label(str(getattr(new, "value", new)), directions[1]).text
                changes.append(
                    Change(
                        f"{path}.{term.key}",
                        f"{label_base}: {term.label.text}",
                        "changed",
                        old,
                        new,
                        old_t,
                        new_t,
                    )
                )
                continue
            change = _scalar(
                term, f"{path}.{term.key}", f"{label_base}: {term.label.text}", old, new
            )
            if change:
                changes.append(change)
    return changes


def compare(old: Contract, new: Contract) -> list[Change]:
    """Every term that differs between two revisions, in document order."""
    a, b = old.model_dump(mode="python"), new.model_dump(mode="python")
    changes: list[Change] = []
    for term in T.KEY_TERMS:
        change = _scalar(term, term.key, term.label.text, _dig(a, term.key), _dig(b, term.key))
        if change:
            changes.append(change)
    directions = (old.direction.value, new.direction.value)
    changes += _items(
        "schedule",
        T.SCHEDULE,
        a["payment_terms"]["installments"] or [],
        b["payment_terms"]["installments"] or [],
        None,
        directions,
    )
    changes += _items(
        "guarantees", T.GUARANTEES, a["guarantees"], b["guarantees"], "id", directions
    )
    changes += _items(
        "obligations", T.OBLIGATIONS, a["obligations"], b["obligations"], "id", directions
    )
    return changes
