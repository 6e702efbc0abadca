"""The safe `when` language of workflow files (SPEC section 3).

A small tokenizer and recursive-descent parser of our own produce an immutable AST. It is
parsed once when a workflow is loaded and type-checked against `VOCABULARY`, the fields a
condition may name; evaluating it later is a walk over that tree with a plain mapping of
values. Nothing is ever handed to Python's `eval`, and nothing but the declared fields can
be read, so an admin's typo is refused at load time instead of silently being false.

Grammar (lowest binding first)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand [("==" | "!=" | ">" | ">=" | "<" | "<=" | "in" | "not" "in") operand]
    operand    := NUMBER | STRING | "true" | "false" | "null" | list | FIELD | "(" expr ")"
    list       := "[" [operand ("," operand)*] "]"

Severities (`risk.max_severity`) compare by rank: none < low < medium < high < critical.
Credit ratings compare by quality: D < C < CC < CCC < B < BB < BBB < A < AA < AAA, so
`counterparty.credit_rating <= "BB"` means "BB or worse".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from engine.domain.contract import Contract, CreditRating
from engine.domain.risk import Severity

# --------------------------------------------------------------------------- vocabulary

NUMBER = "number"
STRING = "string"
BOOL = "bool"
DATE = "date"
SEVERITY = "severity"
RATING = "rating"
STRINGS = "list of strings"
NULL = "null"
LIST = "list"  # a list literal; its items' type is checked separately

ORDERED = {NUMBER, DATE, SEVERITY, RATING}


@dataclass(frozen=True)
class FieldSpec:
    """One name a `when` may use: its type, what it means, and (for strings) allowed values."""

    name: str
    type: str
    description: str
    choices: tuple[str, ...] = ()
    nullable: bool = False


_SEVERITY_NAMES = tuple(s.value for s in Severity)
_RATINGS = tuple(r.value for r in CreditRating)
_CATEGORIES = (
    "payment_terms",
    "guarantees",
    "obligations",
    "liability",
    "renewal",
    "counterparty",
)
_GUARANTEE_KINDS = (
    "bank_guarantee",
    "standby_lc",
    "credit_insurance",
    "collateral",
    "parent_guarantee",
    "advance_payment_guarantee",
    "performance_bond",
)

VOCABULARY: dict[str, FieldSpec] = {
    f.name: f
    for f in [
        FieldSpec("amount", NUMBER, "contract amount in the contract currency"),
        FieldSpec("amount_base", NUMBER, "contract amount in the base currency (config/risk.yaml)"),
        FieldSpec(
            "exposure", NUMBER, "amount x (100 - prepayment_percent) / 100, contract currency"
        ),
        FieldSpec("exposure_base", NUMBER, "exposure in the base currency"),
        FieldSpec("direction", STRING, "sell (we are the seller) or buy", ("sell", "buy")),
        FieldSpec("currency", STRING, "ISO 4217 code of the contract currency"),
        FieldSpec("title", STRING, "the contract title"),
        FieldSpec("owner", STRING, "user name of the responsible contract admin", nullable=True),
        FieldSpec("governing_law", STRING, "governing law as written", nullable=True),
        FieldSpec("start_date", DATE, 'first day of the contract (compare with "YYYY-MM-DD")'),
        FieldSpec("end_date", DATE, "last day of the contract"),
        FieldSpec("duration_days", NUMBER, "end_date - start_date in days"),
        FieldSpec("counterparty.name", STRING, "counterparty name"),
        FieldSpec("counterparty.country", STRING, "ISO 3166 alpha-2 country", nullable=True),
        FieldSpec(
            "counterparty.credit_rating",
            RATING,
            "credit rating AAA..D (ordered by quality: AAA is highest)",
            _RATINGS,
            nullable=True,
        ),
        FieldSpec("prepayment_percent", NUMBER, "same as payment_terms.prepayment_percent"),
        FieldSpec("payment_terms.prepayment_percent", NUMBER, "prepayment, 0..100"),
        FieldSpec("payment_terms.net_days", NUMBER, "days to pay after invoice"),
        FieldSpec(
            "payment_terms.late_penalty_percent_per_day",
            NUMBER,
            "late-payment penalty; null when the contract has none",
            nullable=True,
        ),
        FieldSpec("payment_terms.installment_count", NUMBER, "number of installments (0 if none)"),
        FieldSpec(
            "liability_cap_percent",
            NUMBER,
            "liability cap as % of amount; null when uncapped",
            nullable=True,
        ),
        FieldSpec("auto_renewal", BOOL, "the contract renews itself"),
        FieldSpec("renewal_notice_days", NUMBER, "renewal notice period", nullable=True),
        FieldSpec("guarantees.kinds", STRINGS, "kinds of the guarantees given", _GUARANTEE_KINDS),
        FieldSpec("guarantees.count", NUMBER, "number of guarantees"),
        FieldSpec("guarantees.total", NUMBER, "sum of guarantee amounts, contract currency"),
        FieldSpec("obligations.count", NUMBER, "number of obligations"),
        FieldSpec("obligations.open_count", NUMBER, "obligations not yet fulfilled or waived"),
        FieldSpec(
            "risk.max_severity",
            SEVERITY,
            "highest flag severity: none < low < medium < high < critical",
            _SEVERITY_NAMES,
        ),
        FieldSpec("risk.categories", STRINGS, "categories of the risk flags", _CATEGORIES),
        FieldSpec("risk.rules", STRINGS, "rule ids of the risk flags"),
        FieldSpec("risk.flag_count", NUMBER, "number of risk flags"),
    ]
}


def export_vocabulary() -> list[dict[str, Any]]:
    """The fields a `when` may name, for docs and tools (after business-rules' export)."""
    return [
        {
            "field": f.name,
            "type": f.type,
            "description": f.description,
            "values": list(f.choices),
            "nullable": f.nullable,
        }
        for f in VOCABULARY.values()
    ]


# --------------------------------------------------------------------------- errors


class ExpressionError(ValueError):
    """A `when` that does not parse or does not type-check; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} (column {self.column})"


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    kind: str  # NUM STR NAME OP KW LP RP LB RB COMMA END
    text: str
    pos: int  # 0-based offset
    value: Any = None


KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|>=|<=|>|<)
  | (?P<punct>[()\[\],])
""",
    re.VERBOSE,
)
_PUNCT = {"(": "LP", ")": "RP", "[": "LB", "]": "RB", ",": "COMMA"}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            hint = " (use == for equality)" if char == "=" else ""
            if char in "\"'":
                raise ExpressionError("unterminated string", pos + 1)
            raise ExpressionError(f"unexpected character {char!r}{hint}", pos + 1)
        kind = match.lastgroup
        raw = match.group()
        if kind == "num":
            tokens.append(Token("NUM", raw, pos, Decimal(raw)))
        elif kind == "str":
            body = raw[1:-1]
            tokens.append(Token("STR", raw, pos, re.sub(r"\\(.)", r"\1", body)))
        elif kind == "name":
            tokens.append(Token("KW" if raw in KEYWORDS else "NAME", raw, pos))
        elif kind == "op":
            tokens.append(Token("OP", raw, pos))
        elif kind == "punct":
            tokens.append(Token(_PUNCT[raw], raw, pos))
        pos = match.end()
    tokens.append(Token("END", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Literal:
    value: Any  # Decimal | str | bool | None
    pos: int


@dataclass(frozen=True)
class Field:
    name: str
    pos: int


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Compare:
    op: str  # == != > >= < <= in "not in"
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    operands: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Not:
    operand: Node
    pos: int


Node = Literal | Field | ListExpr | Compare | BoolOp | Not


MAX_DEPTH = 32
"""How deeply `(` and `not` may nest. The parser, the type check and evaluation all recurse
once per level, so a `when` of 10,000 parentheses must be refused here, with a message,
rather than end in a RecursionError; no real condition comes near 32 levels."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def _descend(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested too deeply (limit {MAX_DEPTH})", tok.pos + 1)

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise ExpressionError(f"expected {what}, found {_describe(self.tok)}", self.tok.pos + 1)
        return self.take()

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise ExpressionError("empty expression", 1)
        node = self.or_()
        if self.tok.kind != "END":
            raise ExpressionError(
                f"unexpected {_describe(self.tok)} (expected and, or or the end)", self.tok.pos + 1
            )
        return node

    def _is_kw(self, word: str) -> bool:
        return self.tok.kind == "KW" and self.tok.text == word

    def or_(self) -> Node:
        pos = self.tok.pos
        items = [self.and_()]
        while self._is_kw("or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items), pos)

    def and_(self) -> Node:
        pos = self.tok.pos
        items = [self.not_()]
        while self._is_kw("and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items), pos)

    def not_(self) -> Node:
        if self._is_kw("not"):
            self._descend(self.tok)
            pos = self.take().pos
            node = Not(self.not_(), pos)
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        tok = self.tok
        if tok.kind == "OP":
            self.take()
            return Compare(tok.text, left, self.operand(), tok.pos)
        if self._is_kw("in"):
            self.take()
            return Compare("in", left, self.operand(), tok.pos)
        if self._is_kw("not") and self.tokens[self.i + 1].text == "in":
            self.take()
            self.take()
            return Compare("not in", left, self.operand(), tok.pos)
        return left

    def operand(self) -> Node:
        tok = self.tok
        if tok.kind in ("NUM", "STR"):
            self.take()
            return Literal(tok.value, tok.pos)
        if tok.kind == "KW" and tok.text in ("true", "false", "null"):
            self.take()
            return Literal({"true": True, "false": False, "null": None}[tok.text], tok.pos)
        if tok.kind == "NAME":
            self.take()
            return Field(tok.text, tok.pos)
        if tok.kind == "LP":
            self._descend(tok)
            self.take()
            inner = self.or_()
            self.expect("RP", "')'")
            self.depth -= 1
            return inner
        if tok.kind == "LB":
            self.take()
            items: list[Node] = []
            if self.tok.kind != "RB":
                items.append(self.operand())
                while self.tok.kind == "COMMA":
                    self.take()
                    items.append(self.operand())
            self.expect("RB", "',' or ']'")
            return ListExpr(tuple(items), tok.pos)
        raise ExpressionError(
            f"expected a field, number, quoted string or list, found {_describe(tok)}",
            tok.pos + 1,
        )


def _describe(tok: Token) -> str:
    return "the end" if tok.kind == "END" else repr(tok.text)


# --------------------------------------------------------------------------- type check


def _type_of(node: Node, vocabulary: Mapping[str, FieldSpec]) -> str:
    if isinstance(node, Literal):
        if node.value is None:
            return NULL
        if isinstance(node.value, bool):
            return BOOL
        if isinstance(node.value, Decimal):
            return NUMBER
        return STRING
    if isinstance(node, Field):
        spec = vocabulary.get(node.name)
        if spec is None:
            known = ", ".join(sorted(vocabulary))
            raise ExpressionError(f"unknown field {node.name!r} (known: {known})", node.pos + 1)
        return spec.type
    if isinstance(node, ListExpr):
        for item in node.items:
            if not isinstance(item, Literal) or item.value is None or isinstance(item.value, bool):
                raise ExpressionError("list items must be numbers or quoted strings", item.pos + 1)
        return LIST
    if isinstance(node, Not):
        _expect_bool(node.operand, vocabulary)
        return BOOL
    if isinstance(node, BoolOp):
        for item in node.operands:
            _expect_bool(item, vocabulary)
        return BOOL
    _check_compare(node, vocabulary)
    return BOOL


def _expect_bool(node: Node, vocabulary: Mapping[str, FieldSpec]) -> None:
    kind = _type_of(node, vocabulary)
    if kind != BOOL:
        raise ExpressionError(
            f"{_show(node)} is a {kind}, not a condition (compare it with == != > >= < <= or in)",
            node.pos + 1,
        )


def _show(node: Node) -> str:
    if isinstance(node, Field):
        return node.name
    if isinstance(node, Literal):
        return repr(node.value if not isinstance(node.value, Decimal) else str(node.value))
    return "this"


def _field_spec(node: Node, vocabulary: Mapping[str, FieldSpec]) -> FieldSpec | None:
    return vocabulary.get(node.name) if isinstance(node, Field) else None


def _check_literal_for(spec: FieldSpec, lit: Literal) -> None:
    """A string literal compared with an enumerated field must be one of its values."""
    if spec.type == DATE and isinstance(lit.value, str):
        try:
            dt.date.fromisoformat(lit.value)
        except ValueError:
            raise ExpressionError(
                f"{lit.value!r} is not a date (YYYY-MM-DD) for {spec.name}", lit.pos + 1
            ) from None
        return
    if spec.choices and isinstance(lit.value, str) and lit.value not in spec.choices:
        raise ExpressionError(
            f"{lit.value!r} is not a value of {spec.name} (allowed: {', '.join(spec.choices)})",
            lit.pos + 1,
        )


_COMPATIBLE = {
    NUMBER: {NUMBER},
    STRING: {STRING},
    BOOL: {BOOL},
    DATE: {DATE, STRING},
    SEVERITY: {SEVERITY, STRING},
    RATING: {RATING, STRING},
}


def _check_compare(node: Compare, vocabulary: Mapping[str, FieldSpec]) -> None:
    left_t = _type_of(node.left, vocabulary)
    right_t = _type_of(node.right, vocabulary)
    left_spec = _field_spec(node.left, vocabulary)
    right_spec = _field_spec(node.right, vocabulary)
    col = node.pos + 1
    if node.op in ("in", "not in"):
        if left_t in (LIST, STRINGS, NULL, BOOL):
            raise ExpressionError(f"left of {node.op!r} must be a single value", col)
        if right_t == LIST:
            assert isinstance(node.right, ListExpr)
            for item in node.right.items:
                assert isinstance(item, Literal)
                item_t = _type_of(item, vocabulary)
                if item_t not in _COMPATIBLE.get(left_t, {left_t}):
                    raise ExpressionError(
                        f"list item {_show(item)} is a {item_t}, {_show(node.left)} is a {left_t}",
                        item.pos + 1,
                    )
                if left_spec is not None:
                    _check_literal_for(left_spec, item)
            return
        if right_t == STRINGS:
            if left_t != STRING:
                raise ExpressionError(
                    f"{_show(node.right)} holds strings; compare a quoted string", col
                )
            if right_spec is not None and isinstance(node.left, Literal):
                _check_literal_for(right_spec, node.left)
            return
        raise ExpressionError(f"right of {node.op!r} must be a list or a list field", col)
    if LIST in (left_t, right_t) or STRINGS in (left_t, right_t):
        raise ExpressionError(f"lists cannot be compared with {node.op!r}; use in", col)
    if NULL in (left_t, right_t):
        if node.op not in ("==", "!="):
            raise ExpressionError(f"null can only be compared with == or !=, not {node.op!r}", col)
        return
    if isinstance(node.left, Literal) and isinstance(node.right, Literal):
        raise ExpressionError("compares two constants; name a field", col)
    # The field side decides the type; the other side must fit it.
    field_t, other_t = (left_t, right_t) if left_spec is not None else (right_t, left_t)
    spec = left_spec or right_spec
    if other_t not in _COMPATIBLE.get(field_t, {field_t}) and field_t not in _COMPATIBLE.get(
        other_t, {other_t}
    ):
        raise ExpressionError(f"cannot compare a {left_t} with a {right_t}", col)
    if node.op not in ("==", "!=") and field_t not in ORDERED:
        raise ExpressionError(
            f"{node.op!r} needs numbers, dates, severities or ratings; {_show(node.left)} is a {left_t}",
            col,
        )
    if spec is not None:
        other = node.right if left_spec is not None else node.left
        if isinstance(other, Literal):
            _check_literal_for(spec, other)


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class Expression:
    """A parsed, type-checked `when`; `evaluate(context)` -> bool."""

    source: str
    tree: Node

    @property
    def fields(self) -> frozenset[str]:
        found: set[str] = set()
        _collect(self.tree, found)
        return frozenset(found)

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        return bool(_eval(self.tree, context))


def _collect(node: Node, out: set[str]) -> None:
    if isinstance(node, Field):
        out.add(node.name)
    elif isinstance(node, ListExpr):
        for item in node.items:
            _collect(item, out)
    elif isinstance(node, Compare):
        _collect(node.left, out)
        _collect(node.right, out)
    elif isinstance(node, BoolOp):
        for item in node.operands:
            _collect(item, out)
    elif isinstance(node, Not):
        _collect(node.operand, out)


def parse(text: str, vocabulary: Mapping[str, FieldSpec] | None = None) -> Expression:
    """Parse and type-check; raises `ExpressionError` naming the column."""
    if not isinstance(text, str):
        raise ExpressionError("a condition must be written as text", 1)
    tree = _Parser(text).parse()
    _expect_bool(tree, VOCABULARY if vocabulary is None else vocabulary)
    return Expression(text, tree)


@lru_cache(maxsize=1024)
def compile_when(text: str) -> Expression:
    """`parse` against the standard vocabulary, cached: each text is parsed once per process."""
    return parse(text)


# --------------------------------------------------------------------------- evaluation


def _rank(field: str | None, value: Any) -> Any:
    """Values as they order: severities by rank, ratings by quality, dates as dates."""
    spec = VOCABULARY.get(field) if field else None
    if spec is None or value is None:
        return value
    if spec.type == SEVERITY:
        return Severity(str(value)).rank
    if spec.type == RATING:
        return len(_RATINGS) - _RATINGS.index(str(value))
    if spec.type == DATE and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _value(node: Node, context: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        return context.get(node.name)
    if isinstance(node, ListExpr):
        return [item.value for item in node.items if isinstance(item, Literal)]
    return _eval(node, context)


def _eval(node: Node, context: Mapping[str, Any]) -> Any:
    if isinstance(node, BoolOp):
        if node.op == "and":
            return all(_eval(n, context) for n in node.operands)
        return any(_eval(n, context) for n in node.operands)
    if isinstance(node, Not):
        return not _eval(node.operand, context)
    if isinstance(node, Compare):
        return _compare(node, context)
    return _value(node, context)


def _compare(node: Compare, context: Mapping[str, Any]) -> bool:
    field = (
        node.left.name
        if isinstance(node.left, Field)
        else node.right.name
        if isinstance(node.right, Field)
        else None
    )
    left = _value(node.left, context)
    right = _value(node.right, context)
    if node.op in ("in", "not in"):
        items = right or []
        if isinstance(node.right, ListExpr):
            left_key = _rank(field, left)
            found = left is not None and any(_rank(field, i) == left_key for i in items)
        else:
            found = left in items
        return found if node.op == "in" else not found
    left, right = _rank(field, left), _rank(field, right)
    if isinstance(left, int | float) and not isinstance(left, bool):
        left = Decimal(str(left))
    if isinstance(right, int | float) and not isinstance(right, bool):
        right = Decimal(str(right))
    if node.op == "==":
        return bool(left == right)
    if node.op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if node.op == ">":
            return bool(left > right)
        if node.op == ">=":
            return bool(left >= right)
        if node.op == "<":
            return bool(left < right)
        return bool(left <= right)
    except (TypeError, InvalidOperation):
        return False


# --------------------------------------------------------------------------- context


def context_for(
    contract: Contract,
    *,
    amount_base: Decimal,
    max_severity: str = "none",
    categories: list[str] | tuple[str, ...] = (),
    rules: list[str] | tuple[str, ...] = (),
    flag_count: int = 0,
    open_obligations: int | None = None,
) -> dict[str, Any]:
    """The values every vocabulary field has for one contract and its risk report."""
    terms = contract.payment_terms
    rate = amount_base / contract.amount if contract.amount else Decimal(1)
    exposure = contract.exposure
    open_count = (
        open_obligations
        if open_obligations is not None
        else sum(1 for o in contract.obligations if o.status == "open")
    )
    rating = contract.counterparty.credit_rating
    return {
        "amount": contract.amount,
        "amount_base": amount_base,
        "exposure": exposure,
        "exposure_base": exposure * rate,
        "direction": contract.direction.value,
        "currency": contract.currency,
        "title": contract.title,
        "owner": contract.owner,
        "governing_law": contract.governing_law,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "duration_days": Decimal((contract.end_date - contract.start_date).days),
        "counterparty.name": contract.counterparty.name,
        "counterparty.country": contract.counterparty.country,
        "counterparty.credit_rating": rating.value if rating else None,
        "prepayment_percent": terms.prepayment_percent,
        "payment_terms.prepayment_percent": terms.prepayment_percent,
        "payment_terms.net_days": Decimal(terms.net_days),
        "payment_terms.late_penalty_percent_per_day": terms.late_penalty_percent_per_day,
        "payment_terms.installment_count": Decimal(len(terms.installments or [])),
        "liability_cap_percent": contract.liability_cap_percent,
        "auto_renewal": contract.auto_renewal,
        "renewal_notice_days": (
            Decimal(contract.renewal_notice_days)
            if contract.renewal_notice_days is not None
            else None
        ),
        "guarantees.kinds": sorted({g.kind.value for g in contract.guarantees}),
        "guarantees.count": Decimal(len(contract.guarantees)),
        "guarantees.total": sum((g.amount for g in contract.guarantees), Decimal(0)),
        "obligations.count": Decimal(len(contract.obligations)),
        "obligations.open_count": Decimal(open_count),
        "risk.max_severity": str(max_severity),
        "risk.categories": sorted(categories),
        "risk.rules": sorted(rules),
        "risk.flag_count": Decimal(flag_count),
    }
