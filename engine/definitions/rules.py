"""`rules/*.yaml` -> a checked `RuleSet` (docs/rules.md describes the format).

Every problem is reported as `file:line: message`, all of them in one pass: an unknown key,
field, operator or parameter, a duplicate id, a severity or category not in the list, a
message placeholder that names nothing. Nothing half-checked ever reaches a backend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.definitions.yamlio import LineMap, load_yaml_text, read_text
from engine.domain.contract import Contract, parse_contract
from engine.domain.counterparty import UNREGISTERED, parse_register_facts, with_register
from engine.domain.risk import Severity
from engine.domain.rules import (
    CATEGORIES,
    COLLECTIONS,
    CONTRACT_FIELDS,
    OPERATORS,
    ORDERING,
    SEVERITIES,
    AllOf,
    AnyOf,
    Band,
    Compare,
    Cond,
    Example,
    ExpectedFlag,
    FieldRef,
    FieldSpec,
    Not,
    Operand,
    Quantified,
    Rule,
    RuleSet,
    SumOf,
)
from engine.errors import InvalidDefinition, InvalidInput

Loc = tuple[str | int, ...]

FILE_KEYS = ("rules", "as_of", "base", "params")
RULE_KEYS = (
    "id",
    "category",
    "description",
    "params",
    "for_each",
    "when",
    "severity",
    "message",
    "evidence",
    "examples",
)
EXAMPLE_KEYS = ("name", "as_of", "params", "contract", "register", "fires")
EXPECT_KEYS = ("severity", "subject", "message", "evidence")
COND_KEYS = ("all", "any", "not", "some", "none", "sum", "field")
OPERAND_KEYS = ("param", "field", "as_of", "plus_days", "minus_days", "percent")
RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_COND_DEPTH = 16
"""Levels of all / any / not / where one condition may nest. Both compilers (durable_rules
and plain Python) and the explanations recurse per level; real rules use three or four."""
NESTING_KEYS = ("all", "any", "not", "where")


@dataclass
class _File:
    """Per-file parse state: where to report, which parameters exist."""

    source: str
    lines: LineMap
    known_params: Collection[str]
    problems: list[str]
    scope: str | None = None  # the collection of a `for_each` rule
    params_used: list[str] = field(default_factory=list)
    #: The file's `params:`: the thresholds its examples were written for.
    written_for: dict[str, Decimal] = field(default_factory=dict)
    sums: list[str] = field(default_factory=list)

    def err(self, loc: Loc, message: str) -> None:
        self.problems.append(f"{self.source}:{self.lines.line(loc) or 1}: {message}")

    def line(self, loc: Loc) -> int:
        return self.lines.line(loc) or 1


def _allowed(names: Iterable[str]) -> str:
    return ", ".join(names)


def _keys(f: _File, data: Mapping[str, Any], allowed: tuple[str, ...], loc: Loc, what: str) -> None:
    for key in data:
        if key not in allowed:
            f.err((*loc, key), f"unknown key '{key}' in {what} (allowed: {_allowed(allowed)})")


# -- fields and operands --------------------------------------------------------------------


def _field(f: _File, path: Any, loc: Loc, scope: str | None) -> tuple[FieldRef, FieldSpec] | None:
    """Resolve a field name in a scope: the contract, or one collection's items."""
    if not isinstance(path, str):
        f.err(loc, "field: must be a field name")
        return None
    if scope is not None and not path.startswith("contract."):
        spec = COLLECTIONS[scope].get(path)
        if spec is None:
            f.err(
                loc,
                f"unknown field '{path}' of {scope} (known: {_allowed(COLLECTIONS[scope])}; "
                "contract fields as contract.NAME)",
            )
            return None
        return FieldRef(path, False), spec
    name = path.removeprefix("contract.") if scope is not None else path
    spec = CONTRACT_FIELDS.get(name)
    if spec is None:
        hint = (
            f"; {name} is a collection: use some, none, sum or for_each"
            if name in COLLECTIONS
            else ""
        )
        f.err(loc, f"unknown field '{path}' (known: {_allowed(CONTRACT_FIELDS)}){hint}")
        return None
    return FieldRef(name, True), spec


def _param(f: _File, name: Any, loc: Loc) -> Operand | None:
    if not isinstance(name, str) or name not in f.known_params:
        f.err(
            loc,
            f"unknown parameter '{name}' (parameters in config/risk.yaml: "
            f"{_allowed(sorted(f.known_params))})",
        )
        return None
    if name not in f.params_used:
        f.params_used.append(name)
    return Operand("param", name=name)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    return None


def _literal(f: _File, value: Any, spec: FieldSpec, loc: Loc) -> Any:
    """Check a literal against the field's type; returns the typed value or None."""
    if spec.type == "number":
        num = _number(value)
        if num is None:
            f.err(loc, f"{value!r} is not a number")
        return num
    if spec.type == "date":
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        f.err(loc, f"{value!r} is not a date (YYYY-MM-DD)")
        return None
    if spec.type == "bool":
        if not isinstance(value, bool):
            f.err(loc, f"{value!r} is not true or false")
            return None
        return value
    if not isinstance(value, str):
        f.err(loc, f"{value!r} is not a text")
        return None
    if spec.values is not None and value not in spec.values:
        f.err(loc, f"unknown value '{value}' (allowed: {_allowed(spec.values)})")
        return None
    return value


def _days(f: _File, value: Any, loc: Loc) -> Operand | None:
    if isinstance(value, Mapping):
        _keys(f, value, ("param",), loc, "a number of days")
        return _param(f, value.get("param"), (*loc, "param"))
    if isinstance(value, int) and not isinstance(value, bool):
        return Operand("value", Decimal(value))
    f.err(loc, f"{value!r} is not a whole number of days or {{param: NAME}}")
    return None


def _operand(
    f: _File, raw: Any, spec: FieldSpec, op: str, loc: Loc, scope: str | None
) -> Operand | None:
    """Parse the right-hand side of `op` for a field of type `spec`."""
    if op == "present":
        if not isinstance(raw, bool):
            f.err(loc, "present: must be true or false")
            return None
        return Operand("value", raw)
    if op in ("in", "not_in"):
        if not isinstance(raw, list) or not raw:
            f.err(loc, f"{op}: must be a non-empty list")
            return None
        values = [_literal(f, v, spec, (*loc, i)) for i, v in enumerate(raw)]
        if any(v is None for v in values):
            return None
        return Operand("value", tuple(values))
    if op in ORDERING and spec.type in ("text", "bool"):
        f.err(loc, f"{op}: a {spec.type} field can only be compared with eq, ne, in, not_in")
        return None
    if not isinstance(raw, Mapping):
        value = _literal(f, raw, spec, loc)
        return None if value is None else Operand("value", value)
    _keys(f, raw, OPERAND_KEYS, loc, "an operand")
    bases = [k for k in ("param", "field", "as_of") if k in raw]
    if len(bases) != 1:
        f.err(loc, "an operand needs exactly one of param, field, as_of")
        return None
    base = bases[0]
    result: Operand | None
    if base == "param":
        result = _param(f, raw["param"], (*loc, "param"))
    elif base == "as_of":
        if raw["as_of"] is not True:
            f.err((*loc, "as_of"), "as_of: must be true (the evaluation date)")
            return None
        result = Operand("as_of")
        if spec.type != "date":
            f.err(loc, f"as_of is a date; the field is a {spec.type}")
            return None
    else:
        resolved = _field(f, raw["field"], (*loc, "field"), scope)
        if resolved is None:
            return None
        ref, other = resolved
        if other.type != spec.type:
            f.err(loc, f"cannot compare a {spec.type} with {raw['field']} (a {other.type})")
            return None
        result = Operand("field", name=ref.path, contract_scope=ref.contract_scope)
    if result is None:
        return None
    shift = [k for k in ("plus_days", "minus_days") if k in raw]
    if shift:
        if spec.type != "date" or len(shift) > 1:
            f.err(loc, "plus_days / minus_days: one of them, and only on dates")
            return None
        days = _days(f, raw[shift[0]], (*loc, shift[0]))
        if days is None:
            return None
        result = Operand(
            result.kind,
            result.value,
            result.name,
            result.contract_scope,
            days=(1 if shift[0] == "plus_days" else -1, days),
        )
    if "percent" in raw:
        if spec.type != "number":
            f.err((*loc, "percent"), "percent: only on numbers")
            return None
        pct_raw = raw["percent"]
        pct = (
            _param(f, pct_raw.get("param"), (*loc, "percent", "param"))
            if isinstance(pct_raw, Mapping)
            else (Operand("value", _number(pct_raw)) if _number(pct_raw) is not None else None)
        )
        if pct is None:
            if not isinstance(pct_raw, Mapping):
                f.err((*loc, "percent"), f"{pct_raw!r} is not a number or {{param: NAME}}")
            return None
        result = Operand(result.kind, result.value, result.name, result.contract_scope, percent=pct)
    return result


def _op(f: _File, raw: Mapping[str, Any], loc: Loc, fixed: tuple[str, ...]) -> str | None:
    ops = [k for k in raw if k not in fixed]
    for k in ops:
        if k not in OPERATORS:
            f.err((*loc, k), f"unknown operator '{k}' (allowed: {_allowed(OPERATORS)})")
            return None
    if len(ops) != 1:
        f.err(loc, f"a test needs exactly one operator ({_allowed(OPERATORS)})")
        return None
    return ops[0]


# -- conditions -----------------------------------------------------------------------------


def _cond(f: _File, raw: Any, loc: Loc, scope: str | None) -> Cond | None:
    if sum(1 for part in loc if part in NESTING_KEYS) > MAX_COND_DEPTH:
        f.err(
            loc,
            f"expression nested too deeply (limit {MAX_COND_DEPTH} levels of all / any / "
            "not / where)",
        )
        return None
    if not isinstance(raw, Mapping):
        f.err(loc, f"a condition must be a mapping with one of: {_allowed(COND_KEYS)}")
        return None
    kinds = [k for k in COND_KEYS if k in raw]
    if len(kinds) != 1:
        unknown = [k for k in raw if k not in COND_KEYS and k not in OPERATORS]
        if unknown:
            f.err(
                (*loc, unknown[0]),
                f"unknown key '{unknown[0]}' in a condition (allowed: {_allowed(COND_KEYS)})",
            )
        else:
            f.err(loc, f"a condition needs exactly one of: {_allowed(COND_KEYS)}")
        return None
    kind = kinds[0]
    if kind in ("all", "any"):
        _keys(f, raw, (kind,), loc, f"an {kind} condition")
        items = raw[kind]
        if not isinstance(items, list) or not items:
            f.err((*loc, kind), f"{kind}: must be a non-empty list of conditions")
            return None
        parsed = [_cond(f, item, (*loc, kind, i), scope) for i, item in enumerate(items)]
        if any(p is None for p in parsed):
            return None
        conds = tuple(p for p in parsed if p is not None)
        return AllOf(conds) if kind == "all" else AnyOf(conds)
    if kind == "not":
        _keys(f, raw, ("not",), loc, "a not condition")
        inner = _cond(f, raw["not"], (*loc, "not"), scope)
        return None if inner is None else Not(inner)
    if kind in ("some", "none"):
        _keys(f, raw, (kind, "where"), loc, f"a {kind} condition")
        coll = _collection(f, raw[kind], (*loc, kind), scope)
        if coll is None:
            return None
        where = None
        if "where" in raw:
            where = _cond(f, raw["where"], (*loc, "where"), coll)
            if where is None:
                return None
        return Quantified(kind, coll, where, f.line(loc))  # type: ignore[arg-type]
    if kind == "sum":
        return _sum(f, raw, loc, scope)
    op = _op(f, raw, loc, ("field",))
    resolved = _field(f, raw["field"], (*loc, "field"), scope)
    if op is None or resolved is None:
        return None
    ref, spec = resolved
    operand = _operand(f, raw[op], spec, op, (*loc, op), scope)
    if operand is None:
        return None
    return Compare(ref, op, operand, f.line(loc))


def _collection(f: _File, name: Any, loc: Loc, scope: str | None) -> str | None:
    if scope is not None:
        f.err(loc, "some / none / sum work on the contract, not inside another collection")
        return None
    if name not in COLLECTIONS:
        f.err(loc, f"unknown collection '{name}' (known: {_allowed(COLLECTIONS)})")
        return None
    return str(name)


def _sum(f: _File, raw: Mapping[str, Any], loc: Loc, scope: str | None) -> Cond | None:
    fixed = ("sum", "of", "where", "as")
    coll = _collection(f, raw["sum"], (*loc, "sum"), scope)
    op = _op(f, raw, loc, fixed)
    if coll is None or op is None:
        return None
    of = raw.get("of")
    spec = COLLECTIONS[coll].get(of) if isinstance(of, str) else None
    if spec is None or spec.type != "number":
        numbers = [k for k, s in COLLECTIONS[coll].items() if s.type == "number"]
        f.err((*loc, "of"), f"of: must name a number field of {coll} ({_allowed(numbers)})")
        return None
    name = raw.get("as", f"{coll}_{of}_total")
    if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9_]*$", name):
        f.err((*loc, "as"), "as: must be a lower-case name")
        return None
    where = None
    if "where" in raw:
        where = _cond(f, raw["where"], (*loc, "where"), coll)
        if where is None:
            return None
    operand = _operand(f, raw[op], spec, op, (*loc, op), None)
    if operand is None:
        return None
    if op in ("present", "in", "not_in"):
        f.err((*loc, op), f"{op}: a sum compares with eq, ne, gt, ge, lt, le")
        return None
    f.sums.append(name)
    return SumOf(name, coll, str(of), where, op, operand, f.line(loc))


def _severity(f: _File, raw: Any, loc: Loc, scope: str | None) -> tuple[Band, ...] | None:
    def level(value: Any, at: Loc) -> Severity | None:
        if value not in SEVERITIES:
            f.err(at, f"severity '{value}' is not one of {_allowed(SEVERITIES)}")
            return None
        return Severity(value)

    if isinstance(raw, str):
        sev = level(raw, loc)
        return None if sev is None else (Band(sev),)
    if not isinstance(raw, list) or not raw:
        f.err(loc, "severity: a level or a list of {level, when} bands")
        return None
    bands: list[Band] = []
    for i, item in enumerate(raw):
        at = (*loc, i)
        if not isinstance(item, Mapping):
            f.err(at, "a severity band is a mapping {level: ..., when: ...}")
            return None
        _keys(f, item, ("level", "when", "message"), at, "a severity band")
        sev = level(item.get("level"), (*at, "level"))
        when = _cond(f, item["when"], (*at, "when"), scope) if "when" in item else None
        message = _text(f, item, "message", at, required=False) or None
        if sev is None or ("when" in item and when is None):
            return None
        if i < len(raw) - 1 and when is None:
            f.err(at, "only the last severity band may leave out `when`")
        bands.append(Band(sev, when, message))
    return tuple(bands)


# -- rules and files ------------------------------------------------------------------------


def _names_in_scope(scope: str | None) -> set[str]:
    names = set(CONTRACT_FIELDS) | {"as_of", "subject", "severity", "base_currency"}
    if scope is not None:
        names |= set(COLLECTIONS[scope]) | {f"contract.{n}" for n in CONTRACT_FIELDS}
    return names


def _text(f: _File, rule: Mapping[str, Any], key: str, loc: Loc, required: bool = True) -> str:
    value = rule.get(key)
    if value is None:
        if required:
            f.err(loc, f"{key}: missing")
        return ""
    if not isinstance(value, str) or not value.strip():
        f.err((*loc, key), f"{key}: must be a non-empty text")
        return ""
    return value.strip()


def _rule(f: _File, raw: Any, loc: Loc, file_as_of: dt.date | None, base: Any) -> Rule | None:
    if not isinstance(raw, Mapping):
        f.err(loc, "a rule must be a mapping")
        return None
    before = len(f.problems)
    f.params_used, f.sums = [], []
    _keys(f, raw, RULE_KEYS, loc, "a rule")
    rule_id = _text(f, raw, "id", loc)
    if rule_id and not RULE_ID.match(rule_id):
        f.err((*loc, "id"), f"id '{rule_id}': lower case words joined by . or _")
    category = _text(f, raw, "category", loc)
    if category and category not in CATEGORIES:
        f.err((*loc, "category"), f"category '{category}' is not one of {_allowed(CATEGORIES)}")
    description = _text(f, raw, "description", loc)
    scope = raw.get("for_each")
    if scope is not None and scope not in COLLECTIONS:
        f.err((*loc, "for_each"), f"unknown collection '{scope}' (known: {_allowed(COLLECTIONS)})")
        scope = None
    for i, p in enumerate(raw.get("params") or []):
        _param(f, p, (*loc, "params", i))
    if "when" not in raw:
        f.err(loc, "when: missing")
        when = None
    else:
        when = _cond(f, raw["when"], (*loc, "when"), scope)
    if "severity" not in raw:
        f.err(loc, "severity: missing")
        bands = None
    else:
        bands = _severity(f, raw["severity"], (*loc, "severity"), scope)
    # A rule whose every band words its own flags needs no message of its own.
    every_band_worded = bool(bands) and all(b.message for b in bands or ())
    message = _text(f, raw, "message", loc, required=not every_band_worded)
    known = _names_in_scope(scope) | set(f.params_used) | set(f.sums)
    templates: list[tuple[Loc, str]] = [((*loc, "message"), message)]
    for i, band in enumerate(bands or ()):
        if band.message is not None:
            templates.append(((*loc, "severity", i, "message"), band.message))
    for at, template in templates:
        for name in PLACEHOLDER.findall(template):
            if name not in known:
                f.err(
                    at,
                    f"message: unknown placeholder {{{name}}} (use a field, a parameter of "
                    "this rule, a sum name, as_of, subject, severity or base_currency)",
                )
    evidence_raw = raw.get("evidence")
    evidence: tuple[str, ...] = ()
    if evidence_raw is not None:
        if not isinstance(evidence_raw, list) or not all(isinstance(e, str) for e in evidence_raw):
            f.err((*loc, "evidence"), "evidence: a list of field, parameter or sum names")
        else:
            for i, name in enumerate(evidence_raw):
                if name not in known:
                    f.err((*loc, "evidence", i), f"evidence: unknown name '{name}'")
            evidence = tuple(evidence_raw)
    examples = _examples(f, raw.get("examples"), (*loc, "examples"), file_as_of, base)
    if len(f.problems) > before or when is None or bands is None:
        return None
    return Rule(
        id=rule_id,
        category=category,
        description=description,
        params=tuple(f.params_used),
        for_each=scope,
        when=when,
        bands=bands,
        message=message,
        evidence=evidence,
        source=f.source,
        line=f.line(loc),
        examples=examples,
    )


def _date(f: _File, value: Any, loc: Loc) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        f.err(loc, f"{value!r} is not a date (YYYY-MM-DD)")
        return None


def merge(base: Any, patch: Any) -> Any:
    """Deep-merge an example's contract onto the file's base (lists are replaced)."""
    if isinstance(base, Mapping) and isinstance(patch, Mapping):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return patch


def _examples(
    f: _File, raw: Any, loc: Loc, file_as_of: dt.date | None, base: Any
) -> tuple[Example, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        f.err(loc, "examples: a list")
        return ()
    out: list[Example] = []
    for i, ex in enumerate(raw):
        at = (*loc, i)
        if not isinstance(ex, Mapping):
            f.err(at, "an example is a mapping")
            continue
        _keys(f, ex, EXAMPLE_KEYS, at, "an example")
        name = str(ex.get("name") or f"example {i + 1}")
        as_of = _date(f, ex["as_of"], (*at, "as_of")) if "as_of" in ex else file_as_of
        if as_of is None and "as_of" not in ex:
            f.err(at, "as_of: missing (set it on the example or at the top of the file)")
        contract = ex.get("contract", {})
        if not isinstance(contract, Mapping):
            f.err((*at, "contract"), "contract: a mapping (merged onto the file's base)")
            continue
        params: dict[str, Decimal] = {}
        for key, value in (ex.get("params") or {}).items():
            if _param(f, key, (*at, "params", key)) and _number(value) is not None:
                params[key] = Decimal(value)
        fires = ex.get("fires")
        if not isinstance(fires, list):
            f.err(at, "fires: a list of expected flags ([] when the rule must not fire)")
            continue
        expected: list[ExpectedFlag] = []
        for j, exp in enumerate(fires):
            e_at = (*at, "fires", j)
            if not isinstance(exp, Mapping):
                f.err(e_at, "an expected flag is a mapping {severity, subject, ...}")
                continue
            _keys(f, exp, EXPECT_KEYS, e_at, "an expected flag")
            sev = exp.get("severity")
            if sev is not None and sev not in SEVERITIES:
                f.err((*e_at, "severity"), f"severity '{sev}' is not one of {_allowed(SEVERITIES)}")
                continue
            expected.append(
                ExpectedFlag(
                    severity=Severity(sev) if sev else None,
                    subject=exp.get("subject"),
                    message=exp.get("message"),
                    evidence=dict(exp.get("evidence") or {}),
                )
            )
        register = UNREGISTERED
        if "register" in ex:
            try:
                register = parse_register_facts(ex["register"])
            except ValueError as exc:
                f.err((*at, "register"), str(exc))
        if as_of is None:
            continue
        out.append(
            Example(
                name=name,
                contract=merge(base or {}, contract),
                as_of=as_of,
                params=params,
                written_for={**f.written_for, **params},
                fires=tuple(expected),
                source=f.source,
                line=f.line(at),
                register=register,
            )
        )
    return tuple(out)


def _written_for(f: _File, raw: Any) -> dict[str, Decimal]:
    """The file's `params:` {name: number}: the thresholds its examples were written for, so
    tuning config/risk.yaml does not make the rules' own examples fail (docs/rules.md)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        f.err(("params",), "params: a mapping {parameter: number} the examples were written for")
        return {}
    out: dict[str, Decimal] = {}
    for key, value in raw.items():
        if _param(f, key, ("params", key)) is None:
            continue
        num = _number(value)
        if num is None:
            f.err(("params", key), f"params: {key} must be a number, not {value!r}")
            continue
        out[key] = num
    return out


def example_contract(ex: Example, currencies: Collection[str] | None) -> Contract:
    """An example's contract as the rules see it: the merged terms, with the example's
    register facts (raises pydantic's ValidationError for terms that do not validate)."""
    contract = parse_contract({"title": "example", **ex.contract}, currencies)
    return with_register(contract, ex.register) if ex.register is not UNREGISTERED else contract


def parse_rule_text(text: str, source: str, known_params: Collection[str]) -> list[Rule]:
    """Parse one rule file; raises `InvalidDefinition` listing every problem."""
    problems: list[str] = []
    rules = _parse(text, source, known_params, problems)
    if problems:
        raise InvalidDefinition(problems)
    return rules


def _parse(
    text: str, source: str, known_params: Collection[str], problems: list[str]
) -> list[Rule]:
    try:
        data, lines = load_yaml_text(text, source)
    except InvalidInput as exc:
        problems.extend(exc.problems)
        return []
    f = _File(source, lines, known_params, problems)
    if not isinstance(data, Mapping) or "rules" not in data:
        f.err((), "a rule file is a mapping with a `rules:` list")
        return []
    _keys(f, data, FILE_KEYS, (), "a rule file")
    file_as_of = _date(f, data["as_of"], ("as_of",)) if "as_of" in data else None
    f.written_for = _written_for(f, data.get("params"))
    base = data.get("base") or {}
    if not isinstance(data["rules"], list):
        f.err(("rules",), "rules: must be a list")
        return []
    rules = [_rule(f, raw, ("rules", i), file_as_of, base) for i, raw in enumerate(data["rules"])]
    return [r for r in rules if r is not None]


def load_rule_texts(sources: Mapping[str, str], known_params: Collection[str]) -> RuleSet:
    """Check a whole rule set given as {file name: text}; ids must be unique across files."""
    problems: list[str] = []
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for name in sorted(sources):
        for rule in _parse(sources[name], name, known_params, problems):
            first = seen.get(rule.id)
            if first is not None:
                problems.append(
                    f"{rule.source}:{rule.line}: duplicate rule id '{rule.id}' "
                    f"(first defined at {first.source}:{first.line})"
                )
                continue
            seen[rule.id] = rule
            rules.append(rule)
    if problems:
        raise InvalidDefinition(problems)
    if not rules:
        raise InvalidDefinition([f"{', '.join(sorted(sources)) or 'rules/'}: no rules found"])
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(Path(name).name.encode() + b"\0" + sources[name].encode() + b"\0")
    return RuleSet(tuple(rules), digest.hexdigest()[:16], dict(sources))


def read_rule_dir(path: Path) -> dict[str, str]:
    """{path: text} of every `*.yaml` / `*.yml` file directly in `path`."""
    if not path.is_dir():
        raise InvalidInput(f"{path}: no such rules folder")
    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    return {str(p): read_text(p) for p in files}


def load_rule_dir(path: Path, known_params: Collection[str]) -> RuleSet:
    return load_rule_texts(read_rule_dir(path), known_params)
