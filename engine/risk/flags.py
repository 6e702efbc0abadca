"""Building flags from hits: messages and evidence are ours, whichever backend decided.

durable_rules reports only which rule fired (notes/durable_rules.md), so both backends
report a `Hit` (rule, severity band, item) and this module reads the values that were
compared off the contract to fill in the evidence and the message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain.contract import Contract
from engine.domain.risk import Flag
from engine.domain.riskconfig import RiskConfig
from engine.domain.rules import (
    AllOf,
    AnyOf,
    Compare,
    Cond,
    FieldRef,
    Not,
    Operand,
    Quantified,
    Rule,
    RuleSet,
    SumOf,
)
from engine.errors import InvalidInput
from engine.risk.values import CONTRACT_GETTERS, ITEM_GETTERS, Env, items, subject_of

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Hit:
    """A rule fired: which severity band, and for `for_each` rules which item (item, index)."""

    rule: Rule
    band: int
    item: tuple[Any, int] | None


def effective_params(
    config: RiskConfig, overrides: Mapping[str, Decimal] | None
) -> dict[str, Decimal]:
    """config/risk.yaml's parameters with one call's overrides; unknown names are refused."""
    params = dict(config.parameters)
    for name, value in (overrides or {}).items():
        if name not in params:
            raise InvalidInput(
                f"--param {name}: unknown parameter (known: {', '.join(sorted(params))})"
            )
        params[name] = Decimal(value)
    return params


def checksum_of(rules: RuleSet, config: RiskConfig) -> str:
    """Rule set + parameters: a flag is reproducible from what this names."""
    text = f"{rules.checksum}:{config.checksum or sorted(config.parameters.items())}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _refs(cond: Cond | None, top: bool = True) -> Iterator[tuple[str, Any]]:
    """Names a condition compares: ('field', FieldRef), ('param', name), ('as_of', None),
    ('sum', SumOf). Fields inside `where` clauses are per-item and left out."""
    if cond is None:
        return
    if isinstance(cond, Compare):
        yield ("field", cond.field)
        yield from _operand_refs(cond.operand)
    elif isinstance(cond, AllOf | AnyOf):
        for c in cond.items:
            yield from _refs(c, top)
    elif isinstance(cond, Not):
        yield from _refs(cond.item, top)
    elif isinstance(cond, Quantified):
        for kind, ref in _refs(cond.where, False):
            if kind != "field":
                yield (kind, ref)
    elif isinstance(cond, SumOf):
        yield ("sum", cond)
        yield from _operand_refs(cond.operand)
        for kind, ref in _refs(cond.where, False):
            if kind != "field":
                yield (kind, ref)


def _operand_refs(op: Operand) -> Iterator[tuple[str, Any]]:
    if op.kind == "param":
        yield ("param", op.name)
    elif op.kind == "as_of":
        yield ("as_of", None)
    elif op.kind == "field":
        yield ("field", FieldRef(op.name, op.contract_scope))
    if op.days is not None:
        yield from _operand_refs(op.days[1])
    if op.percent is not None:
        yield from _operand_refs(op.percent)


def evidence_names(rule: Rule) -> list[tuple[str, str, Any]]:
    """(evidence key, kind, ref) in the order they appear; keys are the last path segment
    unless that would clash."""
    seen: list[tuple[str, str, Any]] = []
    keys: set[str] = set()
    idents: set[str] = set()
    conds: list[Cond | None] = [rule.when, *(b.when for b in rule.bands)]
    for cond in conds:
        for kind, ref in _refs(cond):
            ident = _ident(kind, ref, rule)
            if ident in idents:
                continue
            idents.add(ident)
            key = ref.path.rsplit(".", 1)[-1] if kind == "field" else ident
            if key in keys:
                key = ident
            keys.add(key)
            seen.append((key, kind, ref))
    return seen


def _ident(kind: str, ref: Any, rule: Rule) -> str:
    if kind == "field":
        return ref.path if not (ref.contract_scope and rule.for_each) else f"contract.{ref.path}"
    if kind == "sum":
        return str(ref.name)
    if kind == "param":
        return str(ref)
    return "as_of"


def _sum(node: SumOf, c: Contract, e: Env) -> Decimal:
    from engine.risk.python import sum_value

    return sum_value(node)(c, e)


def _sums(cond: Cond | None) -> Iterator[SumOf]:
    for kind, ref in _refs(cond):
        if kind == "sum":
            yield ref


class Lookup:
    """Values by the names a message or evidence may use, in one rule's scope."""

    def __init__(self, rule: Rule, c: Contract, e: Env, item: tuple[Any, int] | None) -> None:
        self.rule, self.c, self.e, self.item = rule, c, e, item

    def __call__(self, name: str) -> Any:
        rule, c, e, item = self.rule, self.c, self.e, self.item
        if name == "as_of":
            return e.as_of
        if name == "base_currency":
            return e.config.base_currency
        if name == "subject":
            return (
                subject_of(rule.for_each, item[0], item[1], c, e)
                if item and rule.for_each
                else None
            )
        if rule.for_each and item is not None and name in ITEM_GETTERS[rule.for_each]:
            return ITEM_GETTERS[rule.for_each][name](item[0], item[1], c, e)
        path = name.removeprefix("contract.")
        if path in CONTRACT_GETTERS:
            return CONTRACT_GETTERS[path](c, e)
        if name in e.params:
            return e.params[name]
        for cond in (rule.when, *(b.when for b in rule.bands)):
            for node in _sums(cond):
                if node.name == name:
                    return _sum(node, c, e)
        return None


def fmt(value: Any) -> str:
    """Values as a person reads them: 1,000,000 and 0.05, dates as ISO text."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal | int):
        d = Decimal(value)
        if d == d.to_integral_value():
            return f"{int(d):,}"
        return f"{d.normalize():,f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def render(template: str, lookup: Lookup) -> str:
    return PLACEHOLDER.sub(lambda m: fmt(lookup(m.group(1))), template)


def build_flag(hit: Hit, c: Contract, e: Env) -> Flag:
    rule = hit.rule
    lookup = Lookup(rule, c, e, hit.item)
    names = rule.evidence or tuple(k for k, _, _ in evidence_names(rule))
    if rule.evidence:
        evidence = {_key(n, names): lookup(n) for n in names}
    else:
        evidence = {}
        for key, kind, ref in evidence_names(rule):
            if kind == "field":
                name = (
                    f"contract.{ref.path}" if (ref.contract_scope and rule.for_each) else ref.path
                )
                evidence[key] = lookup(name)
            elif kind == "sum":
                evidence[key] = _sum(ref, c, e)
            elif kind == "param":
                evidence[key] = e.params[ref]
            else:
                evidence[key] = e.as_of
    subject = (
        subject_of(rule.for_each, hit.item[0], hit.item[1], c, e)
        if rule.for_each and hit.item is not None
        else None
    )
    band = rule.bands[hit.band]
    lookup_sev = _WithSeverity(lookup, band.level.value)
    return Flag(
        rule=rule.id,
        category=rule.category,
        severity=band.level,
        message=render(rule.message, lookup_sev),
        subject=subject,
        evidence=evidence,
    )


def _key(name: str, names: tuple[str, ...]) -> str:
    """`payment_terms.net_days` -> `net_days`, unless another name ends the same way."""
    short = name.rsplit(".", 1)[-1]
    clash = sum(1 for n in names if n.rsplit(".", 1)[-1] == short) > 1
    return name if clash else short


class _WithSeverity(Lookup):
    def __init__(self, inner: Lookup, severity: str) -> None:
        super().__init__(inner.rule, inner.c, inner.e, inner.item)
        self.severity = severity

    def __call__(self, name: str) -> Any:
        return self.severity if name == "severity" else super().__call__(name)


def all_items(c: Contract, collection: str) -> list[tuple[Any, int]]:
    return [(x, i) for i, x in enumerate(items(c, collection))]
