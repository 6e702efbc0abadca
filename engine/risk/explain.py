"""`rules check --explain`: for every rule, whether it fired and, if not, which tests failed.

Evaluated with the Python predicates (the backends agree on every contract; see the oracle
test), reading the same values the flags' evidence shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.domain.contract import Contract
from engine.domain.rules import AllOf, AnyOf, Compare, Cond, Not, Operand, Quantified, SumOf
from engine.risk.flags import fmt
from engine.risk.python import Ctx, PythonEvaluator, compile_cond, field_value, operand_value
from engine.risk.python import sum_value as _sum_value
from engine.risk.values import Env, items, subject_of

_SYMBOL = {
    "eq": "=",
    "ne": "!=",
    "gt": ">",
    "ge": ">=",
    "lt": "<",
    "le": "<=",
    "in": "in",
    "not_in": "not in",
}


@dataclass
class RuleExplanation:
    rule: str
    category: str
    fired: bool
    flags: list[dict[str, Any]] = field(default_factory=list)
    why_not: list[str] = field(default_factory=list)


def _operand_text(op: Operand, scope: str | None = None) -> str:
    if op.kind == "param":
        text = op.name
    elif op.kind == "as_of":
        text = "as_of"
    elif op.kind == "field":
        text = f"contract.{op.name}" if op.contract_scope and scope else op.name
    else:
        value = op.value
        text = (
            "[" + ", ".join(fmt(v) for v in value) + "]" if isinstance(value, tuple) else fmt(value)
        )
    if op.days is not None:
        sign, amount = op.days
        text += f" {'+' if sign > 0 else '-'} {_operand_text(amount)} days"
    if op.percent is not None:
        text = f"{_operand_text(op.percent)}% of {text}"
    return text


def _leaf(cond: Compare | SumOf, c: Contract, e: Env, it: Ctx, scope: str | None) -> str:
    if isinstance(cond, Compare):
        name = cond.field.path
        if cond.field.contract_scope and scope is not None:
            name = f"contract.{name}"
        value = field_value(cond.field, scope)(c, e, it)
    else:
        name = cond.name
        value = _sum_value(cond)(c, e)
    if cond.op == "present":
        want = "present" if cond.operand.value else "absent"
        return f"{name} ({fmt(value)}) is not {want}"
    rhs = operand_value(cond.operand, scope)(c, e, it)
    rhs_text = _operand_text(cond.operand, scope)
    shown = "" if cond.operand.kind == "value" else f" ({fmt(rhs)})"
    return f"not {name} ({fmt(value)}) {_SYMBOL[cond.op]} {rhs_text}{shown}"


def why_not(cond: Cond, c: Contract, e: Env, it: Ctx, scope: str | None) -> list[str]:
    """The tests that made `cond` false (empty when it holds)."""
    if compile_cond(cond, scope)(c, e, it):
        return []
    if isinstance(cond, Compare | SumOf):
        return [_leaf(cond, c, e, it, scope)]
    if isinstance(cond, AllOf):
        return [r for sub in cond.items for r in why_not(sub, c, e, it, scope)]
    if isinstance(cond, AnyOf):
        parts = [" and ".join(why_not(sub, c, e, it, scope)) for sub in cond.items]
        return ["none of: " + "; ".join(parts)]
    if isinstance(cond, Not):
        return ["the negated condition holds"]
    assert isinstance(cond, Quantified)
    if cond.kind == "none":
        where = compile_cond(cond.where, cond.collection) if cond.where else None
        matching = [
            subject_of(cond.collection, x, i, c, e)
            for i, x in enumerate(items(c, cond.collection))
            if where is None or where(c, e, (x, i))
        ]
        return [f"{cond.collection} that match: {', '.join(matching)}"]
    return [f"no item of {cond.collection} matches"]


def explain(evaluator: PythonEvaluator, contract: Contract, env: Env) -> list[RuleExplanation]:
    flags = evaluator.flags(contract, env)
    out: list[RuleExplanation] = []
    for rule in evaluator.rules.rules:
        mine = [f.model_dump(mode="json") for f in flags if f.rule == rule.id]
        entry = RuleExplanation(rule.id, rule.category, bool(mine), mine)
        if not mine:
            if rule.for_each is None:
                entry.why_not = why_not(rule.when, contract, env, None, None)
            else:
                seq = items(contract, rule.for_each)
                if not seq:
                    entry.why_not = [f"the contract has no {rule.for_each}"]
                for i, x in enumerate(seq):
                    reasons = why_not(rule.when, contract, env, (x, i), rule.for_each)
                    sid = subject_of(rule.for_each, x, i, contract, env)
                    entry.why_not.append(f"{sid}: " + "; ".join(reasons))
        out.append(entry)
    return out
