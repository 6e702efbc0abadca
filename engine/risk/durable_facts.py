"""Contracts to durable_rules facts in two steps, so the heavy half runs in the workers.

The parent (which holds the pydantic contracts) only *extracts* the values the compiled
patterns read, as one tuple of plain values per contract (numbers, day numbers, text):
cheap to compute and to pickle. The worker *renders* those tuples into the JSON texts it
asserts, with the batch's thresholds and date sent once per batch, not once per fact.

The facts are exactly those `Plan.facts` describes (same keys, same values, absent values
left out; `test_facts_render_what_plan_facts_builds` pins that): the engine sees the same
input whichever way they were built. Extraction is generated code in the manner of
`engine.risk.program` (values from rule files live in its constant table, not the text).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from engine.domain.contract import Contract
from engine.domain.rules import COLLECTIONS, CONTRACT_FIELDS, FieldRef
from engine.risk.codegen import COLLECTION_EXPR
from engine.risk.durable_compile import TAGS, Plan, _val
from engine.risk.program import Expr, _Gen, _namespace
from engine.risk.values import Env

#: What the parent sends per contract: (contract values, per collection (values read off
#: the contract for its items, [item values, ...])).
Extracted = tuple[tuple[Any, ...], tuple[tuple[tuple[Any, ...], list[tuple[Any, ...]]], ...]]
#: What the parent sends per batch: per scope (None = the contract), (key, value) pairs.
Common = dict[str | None, list[tuple[str, Any]]]

_EXACT = 2**53


def plain(value: Any) -> Any:
    """`durable_compile._val`, with the common types first (it runs for every value)."""
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is dt.date:
        return value.toordinal()
    if kind is Decimal:
        return (
            int(value)
            if value == value.to_integral_value() and abs(value) < _EXACT
            else float(value)
        )
    if kind is int:
        return value if abs(value) < _EXACT else float(value)
    if isinstance(value, str):  # enumerations: their text
        return str(value)
    return _val(value)


def _date(value: dt.date | None) -> int | None:
    return None if value is None else value.toordinal()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _typed(expr: Expr, kind: str) -> str:
    """`plain(expr)` specialised by the vocabulary's type of the field (same result)."""
    if kind == "date":
        return f"{expr.text}.toordinal()" if not expr.nullable else f"_VD({expr.text})"
    if kind == "text":
        return f"str({expr.text})" if not expr.nullable else f"_VT({expr.text})"
    if kind == "bool" and not expr.nullable:
        return f"(1 if {expr.text} else 0)"
    return f"_V({expr.text})"


class FactCodec:
    """Extraction (parent) and rendering (worker) of one plan's facts."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        need = plan.need
        # (fact key, how its value is written: see `_ENCODERS`), in extraction order.
        self.contract_keys: list[tuple[str, str]] = [
            (f"f__{n.replace('.', '__')}", _encoder(CONTRACT_FIELDS[n].type))
            for n in sorted(need.contract)
        ]
        self.contract_keys += [(f"s__{name}", "_E") for name in need.sums]
        self.contract_keys += [
            (k, "_E") for k, (_, scope) in need.computed.items() if scope is None
        ]
        self.collections: list[tuple[str, list[tuple[str, str]], list[tuple[str, str]]]] = []
        for coll in plan._collections:
            from_contract = [
                (f"c__{n.replace('.', '__')}", _encoder(CONTRACT_FIELDS[n].type))
                for n in sorted(need.item_contract.get(coll, ()))
            ]
            item_keys = [
                (f"f__{n}", _encoder(COLLECTIONS[coll][n].type))
                for n in sorted(need.items.get(coll, ()))
            ]
            item_keys += [(k, "_E") for k, (_, scope) in need.computed.items() if scope == coll]
            self.collections.append((coll, from_contract, item_keys))
        self.render_source = self._render_source()
        self._source, self._consts = self._generate()
        namespace = _namespace(self._consts)
        namespace.update(_V=plain, _VD=_date, _VT=_text)
        exec(compile(self._source, "<durable facts>", "exec"), namespace)  # noqa: S102
        self._bind: Callable[[Mapping[str, Decimal], dt.date, Env], Callable[..., Extracted]]
        self._bind = namespace["bind"]

    def _generate(self) -> tuple[str, list[Any]]:
        need = self.plan.need
        gen = _Gen()
        contract: list[str] = []
        for name in sorted(need.contract):
            contract.append(
                _typed(gen.field(FieldRef(name, True), None, "x", "i"), CONTRACT_FIELDS[name].type)
            )
        for node in need.sums.values():
            contract.append(f"_V({gen.sum(node).text})")
        for _key, (op, scope) in need.computed.items():
            if scope is None:
                contract.append(f"_V({gen.operand(op, None, 'x', 'i').text})")
        parts: list[str] = []
        for coll, _, _ in self.collections:
            from_contract = [
                _typed(gen.field(FieldRef(n, True), None, "x", "i"), CONTRACT_FIELDS[n].type)
                for n in sorted(need.item_contract.get(coll, ()))
            ]
            gen.in_comp += 1
            item = [
                _typed(gen.field(FieldRef(n, False), coll, "x", "i"), COLLECTIONS[coll][n].type)
                for n in sorted(need.items.get(coll, ()))
            ]
            item += [
                f"_V({gen.operand(op, coll, 'x', 'i').text})"
                for _key, (op, scope) in need.computed.items()
                if scope == coll
            ]
            gen.in_comp -= 1
            items = "".join(f"{t}, " for t in item)
            parts.append(
                f"(({''.join(f'{t}, ' for t in from_contract)}), "
                f"[({items}) for i, x in enumerate({COLLECTION_EXPR[coll]})])"
            )
        values = "".join(f"{t}, " for t in contract)
        lines = ["def bind(P, A, e):", *(f"    {line}" for line in gen.prelude)]
        lines += ["    def extract(c):"]
        if gen.memos:
            lines.append(f"        {' = '.join(gen.memos)} = _U")
        lines.append(f"        return (({values}), ({''.join(p + ', ' for p in parts)}))")
        lines.append("    return extract")
        return "\n".join(lines) + "\n", gen.consts

    # -- parent side -----------------------------------------------------------------------

    def extractor(self, env: Env) -> Callable[[Contract], Extracted]:
        return self._bind(env.params, env.as_of, env)

    def common(self, env: Env) -> Common:
        """The thresholds and date each kind of fact carries (`Plan._common`)."""
        return {scope: list(values.items()) for scope, values in self.plan._common(env).items()}

    # -- worker side -----------------------------------------------------------------------

    def renderer(self, common: Common) -> Callable[[str, Extracted], list[str]]:
        """`render(sid, extracted)` -> the contract's facts as JSON texts, items first."""
        frags = {
            scope: "".join(f",{_key(k)}:{_encode(v)}" for k, v in pairs)
            for scope, pairs in common.items()
        }
        consts: list[str] = []
        for coll, from_contract, item_keys in self.collections:
            consts.append(f',"t":{_key(TAGS[coll])},"i":')
            consts.append(frags.get(coll, ""))
            consts += [f",{_key(k)}:" for k, _ in from_contract]
            consts += [f",{_key(k)}:" for k, _ in item_keys]
        consts.append(',"t":"contract"' + frags.get(None, ""))
        consts += [f",{_key(k)}:" for k, _ in self.contract_keys]
        namespace: dict[str, Any] = {"_E": _encode, "_S": _encode_str, "_I": str}
        exec(compile(self.render_source, "<durable facts render>", "exec"), namespace)  # noqa: S102
        render: Callable[[str, Extracted], list[str]] = namespace["make"](consts)
        return render

    def _render_source(self) -> str:
        """`make(R)` -> `render(sid, data)`; `R` holds every key text (see `renderer`)."""
        n = itertools.count()
        body = [
            "    def render(sid, data):",
            "        h = '{\"sid\":' + _S(sid)",
            "        out = []",
        ]
        names = [f"_c{k}" for k in range(len(self.collections))]
        if names:
            body.append(f"        {', '.join(names)}, = data[1]")

        def opt(key_const: str, value: str, enc: str) -> str:
            return f"({key_const} + {enc}({value}) if {value} is not None else '')"

        prelude: list[str] = []
        for k, (_coll, from_contract, item_keys) in enumerate(self.collections):
            tag, frag = f"_r{next(n)}", f"_r{next(n)}"
            prelude += [f"    {tag} = R[{tag[2:]}]", f"    {frag} = R[{frag[2:]}]"]
            cc_vals = [f"_cc{k}_{m}" for m in range(len(from_contract))]
            it_vals = [f"_v{m}" for m in range(len(item_keys))]
            cc_parts = []
            for m, (_key_name, enc) in enumerate(from_contract):
                const = f"_r{next(n)}"
                prelude.append(f"    {const} = R[{const[2:]}]")
                cc_parts.append(opt(const, cc_vals[m], enc))
            it_parts = []
            for m, (_key_name, enc) in enumerate(item_keys):
                const = f"_r{next(n)}"
                prelude.append(f"    {const} = R[{const[2:]}]")
                it_parts.append(opt(const, it_vals[m], enc))
            if cc_vals:
                body.append(f"        {', '.join(cc_vals)}, = {names[k]}[0]")
            shared = " + ".join([frag, *cc_parts])
            body.append(f"        _s{k} = {shared}")
            target = f"({', '.join(it_vals)},)" if it_vals else "_"
            body.append(f"        for i, {target} in enumerate({names[k]}[1]):")
            fields = " + ".join(["h", tag, "_I(i)", f"_s{k}", *it_parts, "'}'"])
            body.append(f"            out.append({fields})")
        head = f"_r{next(n)}"
        prelude.append(f"    {head} = R[{head[2:]}]")
        c_vals = [f"_w{m}" for m in range(len(self.contract_keys))]
        c_parts = []
        for m, (_key_name, enc) in enumerate(self.contract_keys):
            const = f"_r{next(n)}"
            prelude.append(f"    {const} = R[{const[2:]}]")
            c_parts.append(opt(const, c_vals[m], enc))
        if c_vals:
            body.append(f"        {', '.join(c_vals)}, = data[0]")
        body.append(
            f"        out.append({' + '.join(['h', head, *c_parts, chr(39) + '}' + chr(39)])})"
        )
        body.append("        return out")
        return "\n".join(["def make(R):", *prelude, *body, "    return render"]) + "\n"


def _encoder(kind: str) -> str:
    """Dates travel as day numbers and booleans as 0/1 (ints); text needs JSON escaping."""
    return {"date": "_I", "bool": "_I", "text": "_S"}.get(kind, "_E")


_encode_str = json.encoder.encode_basestring


def _encode(value: Any) -> str:
    """A plain value as JSON text, as `json.dumps(..., ensure_ascii=False)` writes it."""
    kind = type(value)
    if kind is str:
        return str(_encode_str(value))
    if kind is int:
        return str(value)
    if kind is float:
        return _positional(value)
    return json.dumps(value, ensure_ascii=False)


def _positional(value: float) -> str:
    """A float as JSON the engine can read: never exponent notation.

    durable_rules' JSON reader refuses `1e-05` and `1e+16` (error 204, or worse: `1E-7`
    has crashed the worker with `free(): invalid pointer`), yet that is how Python writes
    0.00001 and 9999999999999999.99 as floats. Written out positionally (`0.00001`,
    `10000000000000000.0`) the same number is read back exactly as the same double."""
    text = repr(value)
    if "e" not in text and "E" not in text:
        return text
    text = format(Decimal(text), "f")
    return text if "." in text else text + ".0"


def _key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)
