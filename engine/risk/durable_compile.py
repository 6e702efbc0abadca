"""The rule IR compiled to durable_rules' JSON ruleset form, and contracts turned into facts.

Pure data work (no durable_rules import): `engine.risk.durable` feeds the result to the
engine inside a worker process. How the engine is used follows notes/durable_rules.md:

- facts, not events; every pattern carries its type tag `t` (contract, guarantee, ...);
- a `none` is a `$not` pattern over tagged item facts, a `some` a join with them; item facts
  are asserted before the contract fact so absence is decided with every item present;
- severity bands become one durable rule each (band i = the rule's condition, band i's
  `when`, and not any earlier band's), so the engine decides the severity too;
- thresholds are fields of every fact (`p__NAME`), so `--param` overrides need no new
  ruleset (rulesets can never be replaced or removed);
- dates are day numbers, booleans 0/1, money a double; an absent value is an absent field
  and every test guards with `$ex`/`$nex` so null behaves as in the Python backend.

Values that are not plain field reads (a sum over items, `percent` of a field) are computed
exactly while building the facts and compared by the engine as fields `s__NAME`/`o__N`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    RuleSet,
    SumOf,
)
from engine.errors import InvalidDefinition
from engine.risk.python import operand_value, sum_value
from engine.risk.values import CONTRACT_GETTERS, ITEM_GETTERS, Env, items

#: notes/durable_rules.md: 128 rules failed with error 303; stay well under it.
MAX_RULES_PER_RULESET = 100
#: Collections' type tags.
TAGS = {"guarantees": "guarantee", "obligations": "obligation", "installments": "installment"}

Expr = dict[str, Any]
#: The durable rule every contract fact fires (see `compile_rules`).
SEEN = "seen"


@dataclass(frozen=True)
class Action:
    """What a durable rule means when it fires: rule index, severity band, per-item or not."""

    rule: int
    band: int
    per_item: bool


@dataclass
class _Need:
    """Which values the facts must carry (only what some rule reads)."""

    contract: set[str] = field(default_factory=set)
    items: dict[str, set[str]] = field(default_factory=dict)
    item_contract: dict[str, set[str]] = field(default_factory=dict)
    params: dict[str | None, set[str]] = field(default_factory=dict)
    sums: dict[str, SumOf] = field(default_factory=dict)
    computed: dict[str, tuple[Operand, str | None]] = field(default_factory=dict)
    as_of: set[str | None] = field(default_factory=set)


def _val(value: Any) -> Any:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, Decimal | int):
        d = Decimal(value)
        return int(d) if d == d.to_integral_value() and abs(d) < 2**53 else float(d)
    if isinstance(value, dt.date):
        return value.toordinal()
    return value


def _key(ref: FieldRef, scope: str | None) -> str:
    path = ref.path.replace(".", "__")
    if scope is not None and ref.contract_scope:
        return f"c__{path}"
    return f"f__{path}"


class _Compiler:
    def __init__(self) -> None:
        self.need = _Need()

    # -- values ----------------------------------------------------------------------------

    def _field(self, ref: FieldRef, scope: str | None) -> str:
        if scope is None or ref.contract_scope:
            if scope is None:
                self.need.contract.add(ref.path)
            else:
                self.need.item_contract.setdefault(scope, set()).add(ref.path)
        else:
            self.need.items.setdefault(scope, set()).add(ref.path)
        return _key(ref, scope)

    def _operand(self, op: Operand, scope: str | None) -> tuple[Any, str | None]:
        """(durable right-hand side, the fact field it needs to exist or None)."""
        simple_days = op.days is None or op.days[1].kind in ("value", "param")
        if op.percent is not None or not simple_days or (op.kind == "value" and op.days):
            name = f"o__{len(self.need.computed)}"
            self.need.computed[name] = (op, scope)
            return {"$m": name}, name
        guard: str | None = None
        rhs: Any
        if op.kind == "value":
            rhs = _val(op.value)
        elif op.kind == "param":
            self.need.params.setdefault(scope, set()).add(op.name)
            rhs = {"$m": f"p__{op.name}"}
        elif op.kind == "as_of":
            self.need.as_of.add(scope)
            rhs = {"$m": "as_of"}
        else:
            guard = self._field(FieldRef(op.name, op.contract_scope), scope)
            rhs = {"$m": guard}
        if op.days is not None:
            sign, amount = op.days
            if amount.kind == "param":
                self.need.params.setdefault(scope, set()).add(amount.name)
                right: Any = {"$m": f"p__{amount.name}"}
            else:
                right = int(amount.value)
            rhs = {"$add" if sign > 0 else "$sub": {"$l": rhs, "$r": right}}
        return rhs, guard

    # -- tests -----------------------------------------------------------------------------

    def compare(
        self, key: str, op: str, operand: Operand, scope: str | None, positive: bool
    ) -> Expr:
        if op == "present":
            has = bool(operand.value) is positive
            return {"$ex" if has else "$nex": {key: 1}}
        if op in ("in", "not_in"):
            values = [_val(v) for v in operand.value]
            if (op == "in") is positive:
                return _and([{"$ex": {key: 1}}, _or([{key: v} for v in values])])
            return _or([{"$nex": {key: 1}}, _and([{"$neq": {key: v}} for v in values])])
        rhs, guard = self._operand(operand, scope)
        base = "eq" if op in ("eq", "ne") else op
        if op == "ne":
            positive = not positive
        exists = [{"$ex": {key: 1}}] + ([{"$ex": {guard: 1}}] if guard else [])
        missing = [{"$nex": {key: 1}}] + ([{"$nex": {guard: 1}}] if guard else [])
        if positive:
            test = {key: rhs} if base == "eq" else {_OPS[base]: {key: rhs}}
            return _and([*exists, test])
        inverse = {"$neq": {key: rhs}} if base == "eq" else {_INVERSE[base]: {key: rhs}}
        return _or([*missing, inverse])

    def pure(self, cond: Cond, scope: str | None, positive: bool = True) -> Expr:
        """A condition without quantifiers as one expression over one fact."""
        if isinstance(cond, Compare):
            key = self._field(cond.field, scope)
            return self.compare(key, cond.op, cond.operand, scope, positive)
        if isinstance(cond, SumOf):
            self.need.sums[cond.name] = cond
            return self.compare(f"s__{cond.name}", cond.op, cond.operand, None, positive)
        if isinstance(cond, Not):
            return self.pure(cond.item, scope, not positive)
        if isinstance(cond, AllOf | AnyOf):
            parts = [self.pure(c, scope, positive) for c in cond.items]
            conj = isinstance(cond, AllOf) is positive
            return _and(parts) if conj else _or(parts)
        raise TypeError(f"not a plain test: {cond!r}")

    # -- contract-scope rules: disjunctive normal form over item patterns -------------------

    def dnf(self, cond: Cond, positive: bool = True) -> list[tuple[list[Expr], list[Expr]]]:
        """[(tests on the contract fact, item patterns)] whose disjunction is `cond`."""
        if not _has_quantifier(cond):
            return [([self.pure(cond, None, positive)], [])]
        if isinstance(cond, Not):
            return self.dnf(cond.item, not positive)
        if isinstance(cond, Quantified):
            tag = {"t": TAGS[cond.collection]}
            where = self.pure(cond.where, cond.collection) if cond.where else None
            pattern = _and([tag, where]) if where else tag
            some = (cond.kind == "some") is positive
            return [([], [{"some" if some else "none": pattern}])]
        assert isinstance(cond, AllOf | AnyOf)
        parts = [self.dnf(c, positive) for c in cond.items]
        if isinstance(cond, AllOf) is positive:
            out = []
            for combo in itertools.product(*parts):
                tests = [t for conj in combo for t in conj[0]]
                pats = [p for conj in combo for p in conj[1]]
                out.append((tests, pats))
            return out
        return [conj for part in parts for conj in part]


_OPS = {"gt": "$gt", "ge": "$gte", "lt": "$lt", "le": "$lte"}
_INVERSE = {"gt": "$lte", "ge": "$lt", "lt": "$gte", "le": "$gt"}


def _and(parts: list[Expr]) -> Expr:
    flat: list[Expr] = []
    for p in parts:
        flat.extend(p["$and"] if set(p) == {"$and"} else [p])
    return flat[0] if len(flat) == 1 else {"$and": flat}


def _or(parts: list[Expr]) -> Expr:
    flat: list[Expr] = []
    for p in parts:
        flat.extend(p["$or"] if set(p) == {"$or"} else [p])
    return flat[0] if len(flat) == 1 else {"$or": flat}


def _has_quantifier(cond: Cond) -> bool:
    if isinstance(cond, Quantified):
        return True
    if isinstance(cond, Not):
        return _has_quantifier(cond.item)
    if isinstance(cond, AllOf | AnyOf):
        return any(_has_quantifier(c) for c in cond.items)
    return False


def _partitions(items: list[Expr]) -> Iterator[list[list[Expr]]]:
    """Every way to group `items` into blocks (set partitions)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        yield [[first], *part]
        for n in range(len(part)):
            yield [*part[:n], [first, *part[n]], *part[n + 1 :]]


def _distinct_bindings(pats: list[Expr]) -> list[tuple[list[Expr], list[Expr]]]:
    """(absence patterns, positive patterns) alternatives with the logic's meaning.

    durable_rules binds every positive pattern of a rule to a different fact, while
    `some A and some B` also holds when one item is both A and B. So positive patterns
    over the same collection are also tried merged, for every grouping of them (the
    alternatives become separate durable rules; their hits are de-duplicated).
    """
    negs = [next(iter(p.values())) for p in pats if "none" in p]
    poss = [next(iter(p.values())) for p in pats if "some" in p]
    by_tag: dict[str | None, list[Expr]] = {}
    for pattern in poss:
        by_tag.setdefault(_tag_of({"p": pattern}), []).append(pattern)
    choices = [list(_partitions(group)) for group in by_tag.values()]
    out: list[tuple[list[Expr], list[Expr]]] = []
    for combo in itertools.product(*choices):
        merged = [_and(block) if len(block) > 1 else block[0] for part in combo for block in part]
        out.append((negs, merged))
    return out


def _band_conditions(rule: Rule) -> Iterator[tuple[int, Cond]]:
    """Band i holds when the rule's condition, band i's `when` and no earlier band hold."""
    earlier: list[Cond] = []
    for i, band in enumerate(rule.bands):
        parts: list[Cond] = [rule.when, *(Not(c) for c in earlier)]
        if band.when is not None:
            parts.append(band.when)
            earlier.append(band.when)
        yield i, AllOf(tuple(parts))
        if band.when is None:
            break


@dataclass
class Plan:
    """Everything a worker needs: the rulesets (without `run`), what each durable rule
    means, and which values to put in the facts."""

    rules: RuleSet
    rulesets: list[dict[str, Expr]]
    actions: dict[str, Action]
    need: _Need
    _env_cache: tuple[Env, dict[str | None, dict[str, Any]]] | None = field(
        default=None, init=False, repr=False
    )

    @property
    def rule_count(self) -> int:
        return len(self.actions)

    def _common(self, env: Env) -> dict[str | None, dict[str, Any]]:
        """Thresholds and the date each kind of fact carries (same for a whole batch)."""
        cached = self._env_cache
        if cached is not None and cached[0] is env:
            return cached[1]
        out: dict[str | None, dict[str, Any]] = {}
        for scope in (None, *TAGS):
            common: dict[str, Any] = {}
            if scope in self.need.as_of:
                common["as_of"] = env.as_of.toordinal()
            for p in sorted(self.need.params.get(scope, ())):
                common[f"p__{p}"] = _val(env.params[p])
            out[scope] = common
        self._env_cache = (env, out)
        return out

    def facts(self, contract: Contract, env: Env, sid: str) -> list[dict[str, Any]]:
        """Item facts first, the contract fact last (absence is decided when it arrives)."""
        need = self.need
        common = self._common(env)
        out: list[dict[str, Any]] = []
        for coll in self._collections:
            getters = [(f"f__{n}", ITEM_GETTERS[coll][n]) for n in sorted(need.items.get(coll, ()))]
            from_contract = [
                (f"c__{n.replace('.', '__')}", _val(v))
                for n in sorted(need.item_contract.get(coll, ()))
                if (v := CONTRACT_GETTERS[n](contract, env)) is not None
            ]
            computed = [(k, op) for k, (op, scope) in need.computed.items() if scope == coll]
            for i, item in enumerate(items(contract, coll)):
                fact = {"sid": sid, "t": TAGS[coll], "i": i, **common[coll]}
                for key, get in getters:
                    value = get(item, i, contract, env)
                    if value is not None:
                        fact[key] = _val(value)
                fact.update(from_contract)
                for key, op in computed:
                    value = operand_value(op, coll)(contract, env, (item, i))
                    if value is not None:
                        fact[key] = _val(value)
                out.append(fact)
        fact = {"sid": sid, "t": "contract", **common[None]}
        for name in sorted(need.contract):
            value = CONTRACT_GETTERS[name](contract, env)
            if value is not None:
                fact[f"f__{name.replace('.', '__')}"] = _val(value)
        for name, total in self._sum_fns.items():
            fact[f"s__{name}"] = _val(total(contract, env))
        for key, (op, scope) in need.computed.items():
            if scope is None:
                value = operand_value(op, None)(contract, env, None)
                if value is not None:
                    fact[key] = _val(value)
        out.append(fact)
        return out

    def __post_init__(self) -> None:
        self._sum_fns = {name: sum_value(node) for name, node in self.need.sums.items()}
        self._env_cache = None
        self._quantified = {
            coll
            for rs in self.rulesets
            for rule in rs.values()
            for pattern in rule["all"]
            for coll, tag in TAGS.items()
            if _tag_of(pattern) == tag
        }
        self._collections = sorted(
            set(self.need.items) | set(self.need.item_contract) | self._quantified
        )


def _tag_of(pattern: dict[str, Any]) -> str | None:
    expr = next(iter(pattern.values()))
    parts = expr.get("$and", [expr])
    for p in parts:
        if "t" in p:
            return str(p["t"])
    return None


def compile_rules(rules: RuleSet) -> Plan:
    """Compile once; refuse a rule set the engine could not hold."""
    comp = _Compiler()
    flat: list[tuple[str, Expr, Action]] = []
    for r_index, rule in enumerate(rules.rules):
        for band, cond in _band_conditions(rule):
            if rule.for_each is not None:
                tag = {"t": TAGS[rule.for_each]}
                pattern = _and([tag, comp.pure(cond, rule.for_each)])
                name = f"r{r_index}b{band}"
                flat.append((name, {"all": [{"m": pattern}]}, Action(r_index, band, True)))
                continue
            conjuncts = [
                (tests, negs, poss)
                for tests, pats in comp.dnf(cond)
                for negs, poss in _distinct_bindings(pats)
            ]
            for k, (tests, negs, poss) in enumerate(conjuncts):
                body: list[Expr] = [{"m": _and([{"t": "contract"}, *tests])}]
                # Absence first: a `$not` after a positive pattern ignores the fact that
                # pattern bound (measured: some(collateral) and none(guarantee) fired).
                body += [{f"n{j}$not": pattern} for j, pattern in enumerate(negs)]
                body += [{f"q{j}": pattern} for j, pattern in enumerate(poss)]
                name = f"r{r_index}b{band}d{k}"
                flat.append((name, {"all": body}, Action(r_index, band, False)))
    rulesets: list[dict[str, Expr]] = []
    for start in range(0, len(flat), MAX_RULES_PER_RULESET - 1):
        chunk = flat[start : start + MAX_RULES_PER_RULESET - 1]
        ruleset = {name: body for name, body, _ in chunk}
        # Every contract fires this one: a sid whose facts fired no action crashed
        # delete_state (segfault, measured on 2.0.28); with an action per sid it never did.
        ruleset[SEEN] = {"all": [{"m": {"t": "contract"}}]}
        rulesets.append(ruleset)
    if len(rulesets) > 8:
        raise InvalidDefinition(
            [
                f"rules/: the rule set compiles to {len(flat)} durable rules; at most "
                f"{8 * MAX_RULES_PER_RULESET} are supported"
            ]
        )
    return Plan(rules, rulesets, {name: action for name, _, action in flat}, comp.need)
