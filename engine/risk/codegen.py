"""The rule IR compiled to Python source, one function per rule: the fast Python backend.

Closures (`engine.risk.python.compile_cond`) cost a call per node; on realistic contracts
(10 obligations, 3 guarantees) that capped the Python backend near 10k contracts/s. Here
each rule becomes one straight-line function. Safety: the source is built only from the
checked IR and from expression templates declared in this module; every value that comes
from a rule file (literals, parameter names) goes into the constant table `K` and is
referenced by index, never spliced into the text. Semantics are those of `python.py`
(null: comparisons false, `ne`/`not_in`/`not` their negations) — the oracle test holds both
this and durable_rules to them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.domain.contract import Contract
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
    SumOf,
)
from engine.risk.values import Env

#: Python expressions of contract fields; `c` is the contract, `e` the Env.
CONTRACT_EXPR: dict[str, str] = {
    "id": "c.id",
    "title": "c.title",
    "direction": "c.direction",
    "currency": "c.currency",
    "amount": "c.amount",
    "amount_base": "_base(c.amount, c.currency, e)",
    "exposure": "c.exposure",
    "exposure_base": "_base(c.exposure, c.currency, e)",
    "start_date": "c.start_date",
    "end_date": "c.end_date",
    "owner": "c.owner",
    "counterparty.name": "c.counterparty.name",
    "counterparty.country": "c.counterparty.country",
    "counterparty.credit_rating": "c.counterparty.credit_rating",
    "payment_terms.prepayment_percent": "c.payment_terms.prepayment_percent",
    "payment_terms.net_days": "c.payment_terms.net_days",
    "payment_terms.late_penalty_percent_per_day": "c.payment_terms.late_penalty_percent_per_day",
    "liability_cap_percent": "c.liability_cap_percent",
    "auto_renewal": "c.auto_renewal",
    "renewal_notice_days": "c.renewal_notice_days",
    "governing_law": "c.governing_law",
}

#: Item fields; `{x}` is the item, `{i}` its position, `A` the evaluation date.
ITEM_EXPR: dict[str, dict[str, str]] = {
    "guarantees": {
        "id": "{x}.id",
        "kind": "{x}.kind",
        "amount": "{x}.amount",
        "amount_base": "_base({x}.amount, c.currency, e)",
        "issuer": "{x}.issuer",
        "expires_on": "{x}.expires_on",
    },
    "obligations": {
        "id": "{x}.id",
        "party": "{x}.party",
        "kind": "{x}.kind",
        "description": "{x}.description",
        "due": "{x}.due",
        "amount": "{x}.amount",
        "amount_base": "_base({x}.amount, c.currency, e)",
        "status": "{x}.status",
        "fulfilled_on": "{x}.fulfilled_on",
        "owner": "{x}.owner",
        "days_past_due": "(A - {x}.due).days",
    },
    "installments": {
        "id": "f'I-{{{i} + 1}}'",
        "percent": "{x}.percent",
        "due": "{x}.due",
        "label": "{x}.label",
        "days_past_due": "(A - {x}.due).days",
    },
}

COLLECTION_EXPR = {
    "guarantees": "c.guarantees",
    "obligations": "c.obligations",
    "installments": "(c.payment_terms.installments or ())",
}

#: Fields that are never None (no None test needed before an ordering comparison).
NEVER_NONE = {
    "direction",
    "currency",
    "amount",
    "amount_base",
    "exposure",
    "exposure_base",
    "start_date",
    "end_date",
    "payment_terms.prepayment_percent",
    "payment_terms.net_days",
    "auto_renewal",
    "kind",
    "party",
    "due",
    "status",
    "percent",
    "days_past_due",
}

_OPS = {"eq": "==", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def _base(amount: Decimal | None, currency: str, e: Env) -> Decimal | None:
    return None if amount is None else e.config.to_base(amount, currency)


def _shift(value: dt.date | None, days: Any) -> dt.date | None:
    return None if value is None else value + dt.timedelta(days=int(days))


def _pct(value: Decimal | None, pct: Any) -> Decimal | None:
    return None if value is None else value * Decimal(pct) / 100


def _total(values: Any) -> Decimal:
    out = Decimal(0)
    for v in values:
        if v is not None:
            out += v
    return out


class _Gen:
    def __init__(self) -> None:
        self.consts: list[Any] = []
        self.hoisted: list[str] = []
        self._ids = itertools.count()

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"K[{len(self.consts) - 1}]"

    def var(self, prefix: str) -> str:
        return f"_{prefix}{next(self._ids)}"

    def field(self, ref: FieldRef, scope: str | None, x: str, i: str) -> str:
        if ref.contract_scope or scope is None:
            return CONTRACT_EXPR[ref.path]
        return ITEM_EXPR[scope][ref.path].format(x=x, i=i)

    def operand(self, op: Operand, scope: str | None, x: str, i: str) -> tuple[str, bool]:
        """(expression, may it be None)."""
        if op.kind == "value":
            text, nullable = self.const(op.value), False
        elif op.kind == "param":
            text, nullable = f"P[{self.const(op.name)}]", False
        elif op.kind == "as_of":
            text, nullable = "A", False
        else:
            ref = FieldRef(op.name, op.contract_scope)
            text, nullable = self.field(ref, scope, x, i), op.name not in NEVER_NONE
        derived = False
        if op.days is not None:
            sign, amount = op.days
            days, _ = self.operand(amount, scope, x, i)
            text = f"_shift({text}, {sign} * int({days}))"
            derived = True
        if op.percent is not None:
            pct, _ = self.operand(op.percent, scope, x, i)
            text = f"_pct({text}, {pct})"
            derived = True
        if derived and op.kind != "field":
            # The same for every item and every test: compute once per call.
            name = self.var("h")
            self.hoisted.append(f"{name} = {text}")
            text = name
        return text, nullable

    def compare(
        self, lhs: str, lhs_nullable: bool, c: Compare | SumOf, scope: str | None, x: str, i: str
    ) -> str:
        op = c.op
        if op == "present":
            return f"({lhs} is {'not ' if c.operand.value else ''}None)"
        if op in ("in", "not_in"):
            test = f"({lhs} in {self.const(frozenset(c.operand.value))})"
            return test if op == "in" else f"(not {test})"
        rhs, rhs_nullable = self.operand(c.operand, scope, x, i)
        base = "eq" if op in ("eq", "ne") else op
        a = self.var("a") if lhs_nullable else None
        b = self.var("b") if rhs_nullable else None
        parts = []
        left = lhs
        if a:
            parts.append(f"({a} := {lhs}) is not None")
            left = a
        right = rhs
        if b:
            parts.append(f"({b} := {rhs}) is not None")
            right = b
        parts.append(f"{left} {_OPS[base]} {right}")
        test = "(" + " and ".join(parts) + ")"
        return f"(not {test})" if op == "ne" else test

    def cond(self, cond: Cond, scope: str | None, x: str, i: str) -> str:
        if isinstance(cond, Compare):
            lhs = self.field(cond.field, scope, x, i)
            nullable = cond.field.path not in NEVER_NONE
            return self.compare(lhs, nullable, cond, scope, x, i)
        if isinstance(cond, AllOf | AnyOf):
            joiner = " and " if isinstance(cond, AllOf) else " or "
            return "(" + joiner.join(self.cond(c, scope, x, i) for c in cond.items) + ")"
        if isinstance(cond, Not):
            return f"(not {self.cond(cond.item, scope, x, i)})"
        if isinstance(cond, Quantified):
            coll = COLLECTION_EXPR[cond.collection]
            if cond.where is None:
                test = f"bool({coll})"
            else:
                qx, qi = self.var("x"), self.var("i")
                where = self.cond(cond.where, cond.collection, qx, qi)
                test = f"any({where} for {qi}, {qx} in enumerate({coll}))"
            return test if cond.kind == "some" else f"(not {test})"
        assert isinstance(cond, SumOf)
        qx, qi = self.var("x"), self.var("i")
        value = ITEM_EXPR[cond.collection][cond.of].format(x=qx, i=qi)
        where = f" if {self.cond(cond.where, cond.collection, qx, qi)}" if cond.where else ""
        total = f"_total({value} for {qi}, {qx} in enumerate({COLLECTION_EXPR[cond.collection]}){where})"
        return self.compare(total, False, cond, None, x, i)


HitFn = Callable[[Contract, Env, Any, dt.date], list[tuple[int, tuple[Any, int] | None]]]


def compile_rule_source(rule: Rule) -> tuple[str, list[Any]]:
    """The source of `def hits(c, e, P, A)` for one rule, and its constant table."""
    gen = _Gen()
    scope = rule.for_each
    x, i = ("x", "i") if scope else ("None", "None")
    when = gen.cond(rule.when, scope, x, i)
    bands = [(gen.cond(b.when, scope, x, i) if b.when else None) for b in rule.bands]
    ctx = "(x, i)" if scope else "None"
    body = []
    for n, band in enumerate(bands):
        keyword = "if" if n == 0 else "elif"
        if band is None:
            body.append("else:" if n else "if True:")
        else:
            body.append(f"{keyword} {band}:")
        body.append(f"    out.append(({n}, {ctx}))")
        if band is None:
            break
    indent = "            " if scope else "        "
    lines = ["def hits(c, e, P, A):", "    out = []", *(f"    {h}" for h in gen.hoisted)]
    if scope:
        lines.append(f"    for i, x in enumerate({COLLECTION_EXPR[scope]}):")
        lines.append(f"        if {when}:")
    else:
        lines.append(f"    if {when}:")
    lines += [indent + line for line in body]
    lines.append("    return out")
    return "\n".join(lines) + "\n", gen.consts


def compile_rule_fn(rule: Rule) -> HitFn:
    source, consts = compile_rule_source(rule)
    namespace: dict[str, Any] = {
        "K": consts,
        "_base": _base,
        "_shift": _shift,
        "_pct": _pct,
        "_total": _total,
    }
    code = compile(source, f"<rule {rule.id}>", "exec")
    exec(code, namespace)  # noqa: S102 - source built from the checked IR; values live in K
    fn: HitFn = namespace["hits"]
    return fn
