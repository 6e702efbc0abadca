"""The whole rule set compiled to one Python scoring function: the fast Python backend.

`codegen` made one function per rule; on realistic contracts (10 obligations, 3 guarantees,
1.85 flags) the per-rule calls, the values every rule recomputed (exposure in the base
currency, the evaluation date shifted by a threshold) and building flags through generic
getters capped the backend near 30k contracts/s. Here the rule set becomes

    def bind(P, A, e):          # once per batch: thresholds, shifted dates, their text
        ...
        def score(c):           # once per contract: every rule, flags built inline
            ...
        return score

- values that depend only on the batch (parameters, the evaluation date and dates or
  durations derived from them, their formatted text for messages) are computed in `bind`;
- contract-level values that cost a call (amounts in the base currency, `some`/`none`
  tests, sums) are computed at most once per contract, lazily, so a rule that does not get
  that far never evaluates them (and a value a rule would not have read cannot raise);
- `for_each` rules over one collection share one loop over its items;
- each flag is built inline: message text and evidence read the same values, in the same
  order, as `flags.FlagBuilder` (which `--explain` and the tests compare against).

Safety as in `codegen`: the source is built from the checked IR and expression templates in
this module and in `codegen`; every value from a rule file (literals, parameter names,
message text) lives in the constant table `K` and is referenced by name, never spliced into
the text. Null semantics are those of `python.py` (the oracle test holds all backends to
them).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain.contract import Contract
from engine.domain.counterparty import effective_rating, outstanding, register_of
from engine.domain.risk import Flag
from engine.domain.rules import (
    COLLECTIONS,
    CONTRACT_FIELDS,
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
from engine.risk.codegen import (
    COLLECTION_EXPR,
    CONTRACT_EXPR,
    ITEM_EXPR,
    NEVER_NONE,
    _base,
    _pct,
    _shift,
    _total,
)
from engine.risk.flags import (
    PLACEHOLDER,
    _ident,
    _key,
    _new_flag,
    _refs,
    evidence_names,
    fmt,
)
from engine.risk.values import Env, shift_date

_OPS = {"eq": "==", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
#: Contract expressions that cost a call (or a property computing one): worth a memo.
_COSTLY = re.compile(r"\(|c\.exposure")

#: A value in generated code: its source text, its level (0: the same for the whole batch,
#: 1: per contract, 2: per item) and whether it may be None.
Level = int


@dataclass(frozen=True)
class Expr:
    text: str
    level: Level
    nullable: bool
    #: The vocabulary's type of the value (`FieldSpec.type`) where known: picks a formatter.
    type: str | None = None


class _Unset:
    """Marks a per-contract memo that was not computed yet."""

    __slots__ = ()


_U = _Unset()


def _fmt_text(value: Any) -> str:
    """`fmt` for a text field (str or a StrEnum member, or None)."""
    return "none" if value is None else str(value)


def _fmt_date(value: dt.date | None) -> str:
    """`fmt` for a date field."""
    return "none" if value is None else value.isoformat()


#: Formatters by vocabulary type; each gives what `flags.fmt` gives for that type's values.
_FORMATTER = {"text": "_fmt_text", "date": "_fmt_date"}


def _shift_td(value: dt.date | None, delta: dt.timedelta) -> dt.date | None:
    return None if value is None else shift_date(value, delta)


def _sort_key(flag: Flag) -> tuple[int, str, str]:
    return flag.sort_key


class _Gen:
    def __init__(self) -> None:
        self.consts: list[Any] = []
        self._const_names: dict[tuple[type, str], str] = {}
        self.prelude: list[str] = []
        self._batch: dict[str, str] = {}
        self.memos: list[str] = []
        self._memo: dict[str, str] = {}
        self._ids = itertools.count()
        #: > 0 while generating inside a comprehension (no memo assignment there).
        self.in_comp = 0

    # -- names -----------------------------------------------------------------------------

    def const(self, value: Any) -> str:
        key = (type(value), repr(value))
        found = self._const_names.get(key)
        if found is None:
            self.consts.append(value)
            found = f"_k{len(self.consts) - 1}"
            self.prelude.append(f"{found} = K[{len(self.consts) - 1}]")
            self._const_names[key] = found
        return found

    def var(self, prefix: str) -> str:
        return f"_{prefix}{next(self._ids)}"

    def batch(self, text: str) -> str:
        """Compute `text` once per batch (in `bind`)."""
        found = self._batch.get(text)
        if found is None:
            found = self.var("b")
            self.prelude.append(f"{found} = {text}")
            self._batch[text] = found
        return found

    def memo(self, expr: Expr, key: str | None = None) -> Expr:
        """A contract-level value computed at most once per contract, when first needed."""
        if expr.level != 1 or self.in_comp or not _COSTLY.search(expr.text):
            return expr
        key = key or expr.text
        name = self._memo.get(key)
        if name is None:
            name = self.var("m")
            self._memo[key] = name
            self.memos.append(name)
        text = f"({name} if {name} is not _U else ({name} := {expr.text}))"
        return Expr(text, 1, expr.nullable)

    # -- values ----------------------------------------------------------------------------

    def field(self, ref: FieldRef, scope: str | None, x: str, i: str) -> Expr:
        nullable = ref.path not in NEVER_NONE
        if ref.contract_scope or scope is None:
            return self.memo(Expr(CONTRACT_EXPR[ref.path], 1, nullable))
        return Expr(ITEM_EXPR[scope][ref.path].format(x=x, i=i), 2, nullable)

    def operand(self, op: Operand, scope: str | None, x: str, i: str) -> Expr:
        if op.kind == "value":
            base = Expr(self.const(op.value), 0, False)
        elif op.kind == "param":
            base = Expr(self.batch(f"P[{self.const(op.name)}]"), 0, False)
        elif op.kind == "as_of":
            base = Expr("A", 0, False)
        else:
            base = self.field(FieldRef(op.name, op.contract_scope), scope, x, i)
        if op.days is not None:
            sign, amount = op.days
            days = self.operand(amount, scope, x, i)
            if days.level == 0:
                delta = self.batch(f"_td(days={sign} * int({days.text}))")
                if base.level == 0:
                    text = f"_shift_td({base.text}, {delta})"
                    base = Expr(self.batch(text), 0, base.nullable)
                elif base.nullable:
                    base = Expr(f"_shift_td({base.text}, {delta})", base.level, True)
                else:  # held at the ends of the calendar (values.shift_date), never raising
                    base = Expr(f"_shift_td({base.text}, {delta})", base.level, False)
            else:
                text = f"_shift({base.text}, {sign} * int({days.text}))"
                base = Expr(text, max(base.level, days.level), True)
            base = self.memo(base)
        if op.percent is not None:
            pct = self.operand(op.percent, scope, x, i)
            text = f"_pct({base.text}, {pct.text})"
            level = max(base.level, pct.level)
            base = Expr(self.batch(text), 0, True) if level == 0 else Expr(text, level, True)
            base = self.memo(base)
        return base

    # -- tests -----------------------------------------------------------------------------

    def compare(self, lhs: Expr, c: Compare | SumOf, scope: str | None, x: str, i: str) -> str:
        op = c.op
        if op == "present":
            return f"({lhs.text} is {'not ' if c.operand.value else ''}None)"
        if op in ("in", "not_in"):
            test = f"({lhs.text} in {self.const(frozenset(c.operand.value))})"
            return test if op == "in" else f"(not {test})"
        rhs = self.operand(c.operand, scope, x, i)
        base = "eq" if op in ("eq", "ne") else op
        parts = []
        left, right = lhs.text, rhs.text
        if lhs.nullable:
            a = self.var("a")
            parts.append(f"({a} := {lhs.text}) is not None")
            left = a
        if rhs.nullable:
            b = self.var("v")
            parts.append(f"({b} := {rhs.text}) is not None")
            right = b
        parts.append(f"{left} {_OPS[base]} {right}")
        test = "(" + " and ".join(parts) + ")"
        return f"(not {test})" if op == "ne" else test

    def cond(self, cond: Cond, scope: str | None, x: str, i: str) -> str:
        if isinstance(cond, Compare):
            return self.compare(self.field(cond.field, scope, x, i), cond, scope, x, i)
        if isinstance(cond, AllOf | AnyOf):
            joiner = " and " if isinstance(cond, AllOf) else " or "
            return "(" + joiner.join(self.cond(c, scope, x, i) for c in cond.items) + ")"
        if isinstance(cond, Not):
            return f"(not {self.cond(cond.item, scope, x, i)})"
        if isinstance(cond, Quantified):
            coll = COLLECTION_EXPR[cond.collection]
            if cond.where is None:
                test = Expr(f"bool({coll})", 1, False)
            else:
                qx, qi = self.var("x"), self.var("i")
                self.in_comp += 1
                where = self.cond(cond.where, cond.collection, qx, qi)
                self.in_comp -= 1
                test = Expr(f"any({where} {_loop(qx, qi, where, coll)})", 1, False)
            text = self.memo(test, key=f"q:{cond!r}").text
            return text if cond.kind == "some" else f"(not {text})"
        assert isinstance(cond, SumOf)
        return self.compare(self.sum(cond), cond, None, x, i)

    def sum(self, node: SumOf) -> Expr:
        qx, qi = self.var("x"), self.var("i")
        self.in_comp += 1
        value = ITEM_EXPR[node.collection][node.of].format(x=qx, i=qi)
        where = f" if {self.cond(node.where, node.collection, qx, qi)}" if node.where else ""
        self.in_comp -= 1
        loop = _loop(qx, qi, value + where, COLLECTION_EXPR[node.collection])
        return self.memo(Expr(f"_total({value} {loop}{where})", 1, False), key=f"s:{node!r}")


def _loop(x: str, i: str, body: str, coll: str) -> str:
    """`for i, x in enumerate(coll)`, or `for x in coll` when the body never reads `i`."""
    if re.search(rf"\b{i}\b", body):
        return f"for {i}, {x} in enumerate({coll})"
    return f"for {x} in {coll}"


class _FlagCode:
    """The source that builds one rule's flag for band `n` (mirrors `flags.FlagBuilder`)."""

    def __init__(self, gen: _Gen, rule: Rule) -> None:
        self.gen = gen
        self.rule = rule

    def value(self, name: str, x: str, i: str) -> Expr:
        """What `flags.value_fn(rule, name)` reads, as an expression."""
        gen, rule = self.gen, self.rule
        coll = rule.for_each
        if name == "as_of":
            return Expr("A", 0, False)
        if name == "base_currency":
            return Expr(gen.batch("e.config.base_currency"), 0, False)
        if name == "subject":
            if coll is None:
                return Expr("None", 0, True)
            return Expr(ITEM_EXPR[coll]["id"].format(x=x, i=i), 2, True)
        if coll is not None and name in ITEM_EXPR[coll]:
            spec = COLLECTIONS[coll][name].type
            return Expr(ITEM_EXPR[coll][name].format(x=x, i=i), 2, True, spec)
        path = name.removeprefix("contract.")
        if path in CONTRACT_EXPR:
            spec = CONTRACT_FIELDS[path].type
            return gen.memo(Expr(CONTRACT_EXPR[path], 1, True, spec))
        for cond in (rule.when, *(b.when for b in rule.bands)):
            for kind, ref in _refs(cond):
                if kind == "sum" and ref.name == name:
                    return gen.sum(ref)
        return Expr(gen.batch(f"P.get({gen.const(name)})"), 0, True)

    def text(self, name: str, x: str, i: str) -> str:
        value = self.value(name, x, i)
        if value.level == 0:
            return self.gen.batch(f"_fmt({value.text})")
        return f"{_FORMATTER.get(value.type or '', '_fmt')}({value.text})"

    def build(self, band: int, x: str, i: str) -> str:
        gen, rule = self.gen, self.rule
        level = rule.bands[band].level
        template = rule.message_of(band)
        parts: list[str] = []
        pos = 0
        for m in PLACEHOLDER.finditer(template):
            if m.start() > pos:
                parts.append(gen.const(template[pos : m.start()]))
            name = m.group(1)
            parts.append(gen.const(level.value) if name == "severity" else self.text(name, x, i))
            pos = m.end()
        if pos < len(template) or not parts:
            parts.append(gen.const(template[pos:]))
        message = " + ".join(parts)
        if rule.evidence:
            names = [(_key(n, rule.evidence), n) for n in rule.evidence]
        else:
            names = [(key, _ident(kind, ref, rule)) for key, kind, ref in evidence_names(rule)]
        evidence = ", ".join(f"{gen.const(k)}: {self.value(n, x, i).text}" for k, n in names)
        subject = self.value("subject", x, i).text if rule.for_each else "None"
        return (
            f"_F({{'rule': {gen.const(rule.id)}, 'category': {gen.const(rule.category)}, "
            f"'severity': {gen.const(level)}, 'message': {message}, "
            f"'subject': {subject}, 'evidence': {{{evidence}}}}})"
        )


def _rule_body(gen: _Gen, rule: Rule, x: str, i: str, code: _FlagCode) -> list[str]:
    """`if when:` then the severity bands, each appending its flag."""
    when = gen.cond(rule.when, rule.for_each, x, i)
    lines = [f"if {when}:"]
    for n, band in enumerate(rule.bands):
        if band.when is None:
            lines.append("    else:" if n else "    if True:")
        else:
            test = gen.cond(band.when, rule.for_each, x, i)
            lines.append(f"    {'if' if n == 0 else 'elif'} {test}:")
        lines.append(f"        out.append({code.build(n, x, i)})")
        if band.when is None:
            break
    return lines


@dataclass
class Program:
    """`bind(params, as_of, env)` -> `score(contract) -> sorted flags`; plus, for backends
    that decide elsewhere (durable_rules), `emitters(...)[rule](contract, band, item, index)`."""

    source: str
    bind: Callable[[Mapping[str, Decimal], dt.date, Env], Callable[[Contract], list[Flag]]]
    emitters: Callable[
        [Mapping[str, Decimal], dt.date, Env],
        list[Callable[[Contract, int, Any, int], Flag]],
    ]


def _namespace(consts: list[Any]) -> dict[str, Any]:
    return {
        "K": consts,
        "_U": _U,
        "_F": _new_flag,
        "_fmt": fmt,
        "_fmt_text": _fmt_text,
        "_fmt_date": _fmt_date,
        "_td": dt.timedelta,
        "_base": _base,
        "_shift": _shift,
        "_shift_td": _shift_td,
        "_pct": _pct,
        "_total": _total,
        "_SK": _sort_key,
        "_reg": register_of,
        "_rating": effective_rating,
        "_outstanding": outstanding,
    }


def compile_program(rules: RuleSet) -> Program:
    """Generate and compile the scoring function of a rule set (once per rule set)."""
    gen = _Gen()
    body: list[str] = []
    by_coll: dict[str, list[Rule]] = {}
    for rule in rules.rules:
        if rule.for_each is None:
            body += _rule_body(gen, rule, "None", "None", _FlagCode(gen, rule))
        else:
            by_coll.setdefault(rule.for_each, []).append(rule)
    for coll, coll_rules in by_coll.items():
        loop: list[str] = []
        for rule in coll_rules:
            loop += _rule_body(gen, rule, "x", "i", _FlagCode(gen, rule))
        header = _loop("x", "i", "\n".join(loop), COLLECTION_EXPR[coll])
        body += [f"{header}:", *(f"    {line}" for line in loop)]
    score = ["def score(c):", "    out = []"]
    if gen.memos:
        score.append(f"    {' = '.join(gen.memos)} = _U")
    score += [f"    {line}" for line in body]
    score += ["    if len(out) > 1:", "        out.sort(key=_SK)", "    return out"]

    # Emitters: one function per rule building its flag for (band, item), for durable_rules.
    emit_gen_lines: list[str] = []
    names = []
    for r, rule in enumerate(rules.rules):
        gen.memos.clear()
        gen._memo.clear()
        code = _FlagCode(gen, rule)
        lines = [f"def emit{r}(c, band, x, i):"]
        branches = [
            f"    if band == {n}:\n        return {code.build(n, 'x', 'i')}"
            for n in range(len(rule.bands))
        ]
        if gen.memos:
            lines.append(f"    {' = '.join(gen.memos)} = _U")
        lines += branches
        lines.append("    raise IndexError(band)")
        emit_gen_lines += lines
        names.append(f"emit{r}")

    source_lines = [
        "def bind(P, A, e):",
        *(f"    {line}" for line in gen.prelude),
        *(f"    {line}" for line in score),
        "    return score",
        "",
        "def emitters(P, A, e):",
        *(f"    {line}" for line in gen.prelude),
        *(f"    {line}" for line in "\n".join(emit_gen_lines).splitlines()),
        f"    return [{', '.join(names)}]",
    ]
    source = "\n".join(source_lines) + "\n"
    namespace = _namespace(gen.consts)
    code_obj = compile(source, f"<rule set {rules.checksum[:12]}>", "exec")
    exec(code_obj, namespace)  # noqa: S102 - source built from the checked IR; values live in K
    return Program(source, namespace["bind"], namespace["emitters"])


__all__ = ["Program", "compile_program"]
