"""The rule IR compiled to plain-Python predicates: the test oracle and a selectable backend.

Each condition becomes a closure `pred(contract, env, item)`; nothing is interpreted per
call. Null semantics (shared with the durable compiler): an ordering or equality test with
an absent value on either side is false; `ne`, `not_in` and `not` are its negations.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain.contract import Contract
from engine.domain.risk import Flag, RiskReport
from engine.domain.riskconfig import RiskConfig
from engine.domain.rules import (
    AllOf,
    AnyOf,
    Band,
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
from engine.risk.base import collector_paused
from engine.risk.flags import (
    Hit,
    check_as_of,
    checksum_of,
    day_params,
    effective_params,
    new_report,
)
from engine.risk.program import compile_program
from engine.risk.values import CONTRACT_GETTERS, ITEM_GETTERS, Env, items, shift_date

Ctx = tuple[Any, int] | None
Value = Callable[[Contract, Env, Ctx], Any]
Pred = Callable[[Contract, Env, Ctx], bool]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def field_value(ref: FieldRef, scope: str | None) -> Value:
    """A getter for a field in a rule's scope (contract, or an item of `scope`)."""
    if ref.contract_scope or scope is None:
        get = CONTRACT_GETTERS[ref.path]
        return lambda c, e, it: get(c, e)
    item_get = ITEM_GETTERS[scope][ref.path]

    def read(c: Contract, e: Env, it: Ctx) -> Any:
        assert it is not None
        return item_get(it[0], it[1], c, e)

    return read


def operand_value(op: Operand, scope: str | None) -> Value:
    base: Value
    if op.kind == "value":
        const = op.value
        base = lambda c, e, it: const  # noqa: E731
    elif op.kind == "param":
        name = op.name
        base = lambda c, e, it: e.params[name]  # noqa: E731
    elif op.kind == "as_of":
        base = lambda c, e, it: e.as_of  # noqa: E731
    else:
        base = field_value(FieldRef(op.name, op.contract_scope), scope)
    if op.days is not None:
        sign, amount = op.days
        days = operand_value(amount, scope)
        inner = base

        def shifted(c: Contract, e: Env, it: Ctx) -> Any:
            value: Any = inner(c, e, it)
            if value is None:
                return None
            return shift_date(value, dt.timedelta(days=sign * int(days(c, e, it))))

        base = shifted
    if op.percent is not None:
        pct = operand_value(op.percent, scope)
        whole = base

        def percent(c: Contract, e: Env, it: Ctx) -> Any:
            value: Any = whole(c, e, it)
            return None if value is None else value * Decimal(pct(c, e, it)) / 100

        base = percent
    return base


def _compare(get: Value, op: str, rhs: Value, const: Any = None, is_const: bool = False) -> Pred:
    if op == "present":
        want = bool(rhs(None, None, None)) if is_const else None  # type: ignore[arg-type]
        if want is None:
            return lambda c, e, it: (get(c, e, it) is not None) is bool(rhs(c, e, it))
        return lambda c, e, it: (get(c, e, it) is not None) is want
    if op in ("in", "not_in"):
        negate = op == "not_in"
        values = frozenset(const) if is_const else None

        def member(c: Contract, e: Env, it: Ctx) -> bool:
            value = get(c, e, it)
            pool = values if values is not None else rhs(c, e, it)
            return (value is not None and value in pool) is not negate

        return member
    negate = op == "ne"
    fn = _ORDER["eq" if negate else op]
    if is_const and not negate:
        if op == "eq":
            return lambda c, e, it: get(c, e, it) == const
        return lambda c, e, it: (a := get(c, e, it)) is not None and fn(a, const)

    def test(c: Contract, e: Env, it: Ctx) -> bool:
        a = get(c, e, it)
        if a is None:
            return negate
        b = rhs(c, e, it)
        return (b is not None and fn(a, b)) is not negate

    return test


def _chain(parts: list[Pred], conj: bool) -> Pred:
    """`p0 and p1 and ...` (or `or`) as nested closures: no generator per call."""
    pred = parts[-1]
    for p in reversed(parts[:-1]):
        pred = _and2(p, pred) if conj else _or2(p, pred)
    return pred


def _and2(a: Pred, b: Pred) -> Pred:
    return lambda c, e, it: a(c, e, it) and b(c, e, it)


def _or2(a: Pred, b: Pred) -> Pred:
    return lambda c, e, it: a(c, e, it) or b(c, e, it)


def compile_cond(cond: Cond, scope: str | None) -> Pred:
    """One closure per node; `scope` is the collection whose item `it` holds (or None)."""
    if isinstance(cond, Compare):
        plain = cond.operand.kind == "value" and cond.operand.days is None
        plain = plain and cond.operand.percent is None
        return _compare(
            field_value(cond.field, scope),
            cond.op,
            operand_value(cond.operand, scope),
            cond.operand.value,
            plain,
        )
    if isinstance(cond, AllOf | AnyOf):
        return _chain([compile_cond(c, scope) for c in cond.items], isinstance(cond, AllOf))
    if isinstance(cond, Not):
        inner = compile_cond(cond.item, scope)
        return lambda c, e, it: not inner(c, e, it)
    if isinstance(cond, Quantified):
        coll = cond.collection
        where = compile_cond(cond.where, coll) if cond.where is not None else None
        want = cond.kind == "some"

        def quantified(c: Contract, e: Env, it: Ctx) -> bool:
            seq = items(c, coll)
            if where is None:
                return bool(seq) is want
            return any(where(c, e, (x, i)) for i, x in enumerate(seq)) is want

        return quantified
    if isinstance(cond, SumOf):
        total = sum_value(cond)
        return _compare(lambda c, e, it: total(c, e), cond.op, operand_value(cond.operand, None))
    raise TypeError(f"unknown condition {cond!r}")


def sum_value(node: SumOf) -> Callable[[Contract, Env], Decimal]:
    coll = node.collection
    where = compile_cond(node.where, coll) if node.where is not None else None
    of = ITEM_GETTERS[coll][node.of]

    def total(c: Contract, e: Env) -> Decimal:
        out = Decimal(0)
        for i, x in enumerate(items(c, coll)):
            if where is None or where(c, e, (x, i)):
                value = of(x, i, c, e)
                if value is not None:
                    out += value
        return out

    return total


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    when: Pred
    bands: tuple[tuple[Band, Pred | None], ...]

    def hits(self, c: Contract, e: Env) -> list[Hit]:
        """(band index, item) for every flag this rule gives the contract."""
        rule = self.rule
        if rule.for_each is None:
            return (
                [h for h in [self._band(c, e, None)] if h is not None]
                if self.when(c, e, None)
                else []
            )
        out: list[Hit] = []
        for i, x in enumerate(items(c, rule.for_each)):
            ctx = (x, i)
            if self.when(c, e, ctx):
                hit = self._band(c, e, ctx)
                if hit is not None:
                    out.append(hit)
        return out

    def _band(self, c: Contract, e: Env, ctx: Ctx) -> Hit | None:
        for index, (_band, pred) in enumerate(self.bands):
            if pred is None or pred(c, e, ctx):
                return Hit(self.rule, index, ctx)
        return None


def compile_rule(rule: Rule) -> CompiledRule:
    scope = rule.for_each
    return CompiledRule(
        rule,
        compile_cond(rule.when, scope),
        tuple((b, compile_cond(b.when, scope) if b.when else None) for b in rule.bands),
    )


class PythonEvaluator:
    """`RiskEvaluator` on the compiled rule set (`program`), in the calling thread.

    The per-rule closures above are kept for `--explain` (which reports every test) and as
    a second, independent reading of the rules in the tests.
    """

    def __init__(self, rules: RuleSet, config: RiskConfig) -> None:
        self.rules = rules
        self.config = config
        self._day_params = day_params(rules)
        self._compiled = [compile_rule(r) for r in rules.rules]
        self._program = compile_program(rules)
        self._checksum = checksum_of(rules, config)
        self._bound: tuple[Env, Callable[[Contract], list[Flag]]] | None = None

    @property
    def checksum(self) -> str:
        return self._checksum

    def evaluate(
        self,
        contracts: Sequence[Contract],
        as_of: dt.date,
        params: Mapping[str, Decimal] | None = None,
    ) -> list[RiskReport]:
        check_as_of(as_of)
        env = Env(as_of, effective_params(self.config, params, self._day_params), self.config)
        score = self._score(env)
        checksum = self._checksum
        with collector_paused():
            return [
                new_report(
                    {
                        "contract": c.id,
                        "as_of": as_of,
                        "flags": score(c),
                        "ruleset_checksum": checksum,
                    }
                )
                for c in contracts
            ]

    def _score(self, env: Env) -> Callable[[Contract], list[Flag]]:
        bound = self._bound
        if bound is None or bound[0] != env:
            bound = (env, self._program.bind(env.params, env.as_of, env))
            self._bound = bound
        return bound[1]

    def flags(self, contract: Contract, env: Env) -> list[Flag]:
        """The contract's flags, sorted (most severe first)."""
        return self._score(env)(contract)

    def close(self) -> None:
        return None
