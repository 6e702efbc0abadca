"""Building flags from hits: messages and evidence are ours, whichever backend decided.

durable_rules reports only which rule fired (notes/durable_rules.md), so both backends
report a `Hit` (rule, severity band, item) and this module reads the values that were
compared off the contract to fill in the evidence and the message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain.contract import Contract
from engine.domain.risk import Flag, RiskReport, Severity
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
from engine.risk.values import CONTRACT_GETTERS, ITEM_GETTERS, Env

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Hit:
    """A rule fired: which severity band, and for `for_each` rules which item (item, index)."""

    rule: Rule
    band: int
    item: tuple[Any, int] | None


PARAM_LIMIT = Decimal(10) ** 15
PARAM_PLACES = 8
DAYS_LIMIT = 36500
AS_OF_RANGE = (dt.date(1900, 1, 1), dt.date(2999, 12, 31))


def param_problem(value: Decimal, days: bool = False) -> str | None:
    """Why a threshold cannot be used, or None.

    Both backends must evaluate every value they accept: beyond +-10^15, or finer than 8
    decimal places, a number no longer survives the trip through a double in durable_rules
    (1e308, 1e20); a day count is a whole number of at most 100 years (date arithmetic
    overflows past year 9999, and durable_rules would add a fraction of a day that the
    Python backend truncates)."""
    if not value.is_finite():
        return f"{value} is not a finite number"
    if abs(value) > PARAM_LIMIT or value != round(value, PARAM_PLACES):
        return (
            f"{value} is out of range (a parameter is between -10^15 and 10^15, "
            f"with at most {PARAM_PLACES} decimal places)"
        )
    if days and (value != value.to_integral_value() or abs(value) > DAYS_LIMIT):
        return f"{value} is not a whole number of days between -{DAYS_LIMIT} and {DAYS_LIMIT}"
    return None


def day_params(rules: RuleSet) -> frozenset[str]:
    """Parameters that rules add to or subtract from dates (`plus_days: {param: ...}`)."""
    found: set[str] = set()

    def operand(op: Operand | None) -> None:
        if op is None:
            return
        if op.days is not None and op.days[1].kind == "param":
            found.add(op.days[1].name)
        operand(op.percent)

    def walk(cond: Cond | None) -> None:
        if isinstance(cond, Compare):
            operand(cond.operand)
        elif isinstance(cond, AllOf | AnyOf):
            for c in cond.items:
                walk(c)
        elif isinstance(cond, Not):
            walk(cond.item)
        elif isinstance(cond, Quantified):
            walk(cond.where)
        elif isinstance(cond, SumOf):
            operand(cond.operand)
            walk(cond.where)

    for rule in rules.rules:
        walk(rule.when)
        for band in rule.bands:
            walk(band.when)
    return frozenset(found)


def check_as_of(as_of: dt.date) -> None:
    low, high = AS_OF_RANGE
    if not low <= as_of <= high:
        raise InvalidInput(f"as_of: {as_of} is out of range ({low} to {high})")


def effective_params(
    config: RiskConfig,
    overrides: Mapping[str, Decimal] | None,
    days: frozenset[str] = frozenset(),
) -> dict[str, Decimal]:
    """config/risk.yaml's parameters with one call's overrides; unknown names and values
    out of range (`param_problem`) are refused, one line each."""
    params = dict(config.parameters)
    problems: list[str] = []
    for name, value in (overrides or {}).items():
        if name not in params:
            raise InvalidInput(
                f"--param {name}: unknown parameter (known: {', '.join(sorted(params))})"
            )
        try:
            params[name] = Decimal(value)
        except ArithmeticError:
            problems.append(f"--param {name}: {value!r} is not a number")
            continue
        problem = param_problem(params[name], name in days)
        if problem:
            problems.append(f"--param {name}: {problem}")
    if problems:
        raise InvalidInput(problems)
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


ValueFn = Callable[[Contract, Env, "tuple[Any, int] | None"], Any]


def value_fn(rule: Rule, name: str) -> ValueFn:
    """A getter for a name a message or evidence may use, in `rule`'s scope (resolved once)."""
    coll = rule.for_each
    if name == "as_of":
        return lambda c, e, it: e.as_of
    if name == "base_currency":
        return lambda c, e, it: e.config.base_currency
    if name == "subject":
        if coll is None:
            return lambda c, e, it: None
        get_id = ITEM_GETTERS[coll]["id"]
        return lambda c, e, it: get_id(it[0], it[1], c, e) if it else None
    if coll is not None and name in ITEM_GETTERS[coll]:
        item_get = ITEM_GETTERS[coll][name]
        return lambda c, e, it: item_get(it[0], it[1], c, e) if it else None
    path = name.removeprefix("contract.")
    if path in CONTRACT_GETTERS:
        get = CONTRACT_GETTERS[path]
        return lambda c, e, it: get(c, e)
    for cond in (rule.when, *(b.when for b in rule.bands)):
        for node in _sums(cond):
            if node.name == name:
                total = _sum_fn(node)
                return lambda c, e, it: total(c, e)
    return lambda c, e, it: e.params.get(name)


def _sum_fn(node: SumOf) -> Callable[[Contract, Env], Decimal]:
    from engine.risk.python import sum_value

    return sum_value(node)


def fmt(value: Any) -> str:
    """Values as a person reads them: 1,000,000 and 0.05, dates as ISO text."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return f"{int(value):,}"
        return f"{value.normalize():,f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _key(name: str, names: tuple[str, ...]) -> str:
    """`payment_terms.net_days` -> `net_days`, unless another name ends the same way."""
    short = name.rsplit(".", 1)[-1]
    clash = sum(1 for n in names if n.rsplit(".", 1)[-1] == short) > 1
    return name if clash else short


class FlagBuilder:
    """One rule's message template and evidence, resolved to getters once."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        if rule.evidence:
            self.evidence = [(_key(n, rule.evidence), value_fn(rule, n)) for n in rule.evidence]
        else:
            self.evidence = [
                (key, value_fn(rule, _ident(kind, ref, rule)))
                for key, kind, ref in evidence_names(rule)
            ]
        #: Per severity band, the message template resolved to text and getters.
        self.parts = [self._template(rule.message_of(b)) for b in range(len(rule.bands))]
        self.subject = value_fn(rule, "subject") if rule.for_each else None

    def _template(self, message: str) -> list[str | ValueFn]:
        parts: list[str | ValueFn] = []
        pos = 0
        for m in PLACEHOLDER.finditer(message):
            parts.append(message[pos : m.start()])
            name = m.group(1)
            parts.append(value_fn(self.rule, name) if name != "severity" else "\0sev")
            pos = m.end()
        parts.append(message[pos:])
        return parts

    def build(self, band: int, c: Contract, e: Env, item: tuple[Any, int] | None) -> Flag:
        rule = self.rule
        level = rule.bands[band].level
        out: list[str] = []
        for part in self.parts[band]:
            if isinstance(part, str):
                out.append(level.value if part == "\0sev" else part)
            else:
                out.append(fmt(part(c, e, item)))
        return _new_flag(
            {
                "rule": rule.id,
                "category": rule.category,
                "severity": level,
                "message": "".join(out),
                "subject": self.subject(c, e, item) if self.subject else None,
                "evidence": {key: fn(c, e, item) for key, fn in self.evidence},
            }
        )


def _fast_constructor(model: type[Any], sample: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """What `model.model_construct` does for a complete set of fields, at a fraction of the
    cost (flag and report building were a third of the Python backend's time): the values
    dict becomes the instance's `__dict__`. Used only if it builds exactly what pydantic
    builds for `sample` (else a new pydantic version changed its internals and we fall back).
    """
    fields = frozenset(model.model_fields)
    if set(sample) != fields:
        raise ValueError(f"the sample must set every field of {model.__name__}")

    def construct(
        values: dict[str, Any], new: Any = model.__new__, put: Any = object.__setattr__
    ) -> Any:
        obj = new(model)
        put(obj, "__dict__", values)
        put(obj, "__pydantic_fields_set__", fields)
        put(obj, "__pydantic_extra__", None)
        put(obj, "__pydantic_private__", None)
        return obj

    try:
        fast = construct(dict(sample))
        checked = model.model_validate(sample)
        if fast == model.model_construct(**sample) and fast.model_dump() == checked.model_dump():
            return construct
    except (AttributeError, TypeError):
        pass
    return lambda values: model.model_construct(**values)


_new_flag: Callable[[dict[str, Any]], Flag] = _fast_constructor(
    Flag,
    {
        "rule": "r",
        "category": "c",
        "severity": Severity.LOW,
        "message": "m",
        "subject": None,
        "evidence": {"a": 1},
    },
)

#: `RiskReport` from {"contract", "as_of", "flags", "ruleset_checksum"} (values trusted).
new_report: Callable[[dict[str, Any]], RiskReport] = _fast_constructor(
    RiskReport,
    {
        "contract": "SC-1",
        "as_of": dt.date(2027, 1, 1),
        "flags": [
            _new_flag(
                {
                    "rule": "r",
                    "category": "c",
                    "severity": Severity.LOW,
                    "message": "m",
                    "subject": None,
                    "evidence": {},
                }
            )
        ],
        "ruleset_checksum": "x",
    },
)

_BUILDERS: dict[int, tuple[Rule, FlagBuilder]] = {}


def builder(rule: Rule) -> FlagBuilder:
    found = _BUILDERS.get(id(rule))
    if found is None or found[0] is not rule:
        found = (rule, FlagBuilder(rule))
        _BUILDERS[id(rule)] = found
    return found[1]


def build_flag(hit: Hit, c: Contract, e: Env) -> Flag:
    return builder(hit.rule).build(hit.band, c, e, hit.item)
