"""Risk rules as data: the vocabulary rules may use and the checked rule tree (the IR).

`rules/*.yaml` is parsed by `engine.definitions.rules` into these objects; the backends in
`engine.risk` compile them (to durable_rules rulesets and to plain-Python predicates). The
vocabulary is declared once here so that the loader, both compilers and `docs/rules.md`
agree on what a rule may name (the business-rules `variables.py` idea).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from engine.domain.contract import CreditRating, Direction, GuaranteeKind, ObligationKind, Party
from engine.domain.counterparty import UNREGISTERED, CounterpartyStatus, RegisterFacts
from engine.domain.risk import Category, Severity

FieldType = Literal["number", "date", "text", "bool"]


@dataclass(frozen=True)
class FieldSpec:
    """One value a rule may read. `values`: the allowed texts of an enumerated field."""

    type: FieldType
    description: str
    values: tuple[str, ...] | None = None
    derived: bool = False


def _enum(values: Any) -> tuple[str, ...]:
    return tuple(v.value for v in values)


#: Fields of the contract itself (contract scope). Dotted paths follow the contract file.
CONTRACT_FIELDS: dict[str, FieldSpec] = {
    "id": FieldSpec("text", "contract id (SC-...)"),
    "title": FieldSpec("text", "title"),
    "direction": FieldSpec("text", "sell or buy", _enum(Direction)),
    "currency": FieldSpec("text", "ISO 4217 currency of the amounts"),
    "amount": FieldSpec("number", "contract amount in its currency"),
    "amount_base": FieldSpec("number", "amount in the base currency", derived=True),
    "exposure": FieldSpec(
        "number", "amount x (100 - prepayment_percent) / 100, contract currency", derived=True
    ),
    "exposure_base": FieldSpec("number", "exposure in the base currency", derived=True),
    "start_date": FieldSpec("date", "start date"),
    "end_date": FieldSpec("date", "end date"),
    "owner": FieldSpec("text", "responsible contract admin"),
    "counterparty.name": FieldSpec("text", "counterparty name"),
    "counterparty.country": FieldSpec("text", "ISO 3166 alpha-2 country"),
    "counterparty.code": FieldSpec("text", "Unified Social Credit Code"),
    "counterparty.credit_rating": FieldSpec(
        "text", "AAA (best) ... D; the register's rating when it has one", _enum(CreditRating)
    ),
    "counterparty.status": FieldSpec(
        "text", "register status: active, watch or blocked", _enum(CounterpartyStatus), True
    ),
    "counterparty.credit_limit": FieldSpec(
        "number", "credit limit in the base currency; null when there is none", derived=True
    ),
    "counterparty.exposure_other": FieldSpec(
        "number",
        "outstanding amounts of the counterparty's other submitted active contracts (base)",
        derived=True,
    ),
    "counterparty.exposure_total": FieldSpec(
        "number", "counterparty.exposure_other + outstanding: owed with this contract", derived=True
    ),
    "outstanding": FieldSpec(
        "number",
        "sell: amount_base less fulfilled or waived counterparty payments (>= 0); buy: 0",
        derived=True,
    ),
    "payment_terms.prepayment_percent": FieldSpec("number", "prepayment, % of amount"),
    "payment_terms.net_days": FieldSpec("number", "days to pay after invoice"),
    "payment_terms.late_penalty_percent_per_day": FieldSpec(
        "number", "late-payment penalty; null when there is none"
    ),
    "liability_cap_percent": FieldSpec("number", "liability cap, % of amount; null = uncapped"),
    "auto_renewal": FieldSpec("bool", "renews automatically"),
    "renewal_notice_days": FieldSpec("number", "notice needed to stop a renewal"),
    "governing_law": FieldSpec("text", "governing law"),
}

#: Collections a rule can quantify over (`some`, `none`, `sum`, `for_each`) and their fields.
COLLECTIONS: dict[str, dict[str, FieldSpec]] = {
    "guarantees": {
        "id": FieldSpec("text", "guarantee id (G-1, ...)"),
        "kind": FieldSpec("text", "kind of security", _enum(GuaranteeKind)),
        "amount": FieldSpec("number", "amount in the contract currency"),
        "amount_base": FieldSpec("number", "amount in the base currency", derived=True),
        "issuer": FieldSpec("text", "issuer"),
        "expires_on": FieldSpec("date", "expiry date"),
        "days_after_end": FieldSpec(
            "number",
            "expires_on minus the contract's end_date, in days (negative: lapses before the "
            "end; null without expiry)",
            derived=True,
        ),
        "days_before_end": FieldSpec(
            "number",
            "the contract's end_date minus expires_on, in days (negative: lapses after the "
            "end; null without expiry)",
            derived=True,
        ),
    },
    "obligations": {
        "id": FieldSpec("text", "obligation id"),
        "party": FieldSpec("text", "who owes it", _enum(Party)),
        "kind": FieldSpec("text", "kind of obligation", _enum(ObligationKind)),
        "description": FieldSpec("text", "description"),
        "due": FieldSpec("date", "due date"),
        "amount": FieldSpec("number", "amount in the contract currency"),
        "amount_base": FieldSpec("number", "amount in the base currency", derived=True),
        "status": FieldSpec("text", "open, fulfilled or waived", ("open", "fulfilled", "waived")),
        "fulfilled_on": FieldSpec("date", "date fulfilled"),
        "owner": FieldSpec("text", "user told about it"),
        "days_past_due": FieldSpec(
            "number",
            "evaluation date minus due date, in days (negative: not yet due)",
            derived=True,
        ),
    },
    "installments": {
        "id": FieldSpec("text", "position as I-1, I-2, ...", derived=True),
        "percent": FieldSpec("number", "% of the amount"),
        "due": FieldSpec("date", "due date"),
        "label": FieldSpec("text", "label"),
        "days_past_due": FieldSpec(
            "number",
            "evaluation date minus due date, in days (negative: not yet due)",
            derived=True,
        ),
    },
}

#: Comparison operators of a field test, with their meaning (for docs and error messages).
OPERATORS: dict[str, str] = {
    "eq": "equal to",
    "ne": "not equal to (true when the field is null)",
    "gt": "more than (strict)",
    "ge": "at least",
    "lt": "less than (strict)",
    "le": "at most",
    "in": "one of a list",
    "not_in": "none of a list (true when the field is null)",
    "present": "true: the field has a value; false: it is absent or null",
}
ORDERING = frozenset({"gt", "ge", "lt", "le"})

SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity if s is not Severity.NONE)
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)

Scalar = Decimal | str | bool | dt.date


# -- operands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operand:
    """The right-hand side of a test.

    kind: `value` (a literal or list), `param` (a threshold from config/risk.yaml), `field`
    (another field; `contract.X` from an item scope), `as_of` (the evaluation date).
    `days` shifts a date (sign +1/-1, amount a literal int or a parameter); `percent` takes
    that percentage of a number.
    """

    kind: Literal["value", "param", "field", "as_of"]
    value: Any = None
    name: str = ""
    contract_scope: bool = False
    days: tuple[int, Operand] | None = None
    percent: Operand | None = None


# -- conditions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    """A field read in a scope: `contract_scope` is true for contract fields."""

    path: str
    contract_scope: bool


@dataclass(frozen=True)
class Compare:
    field: FieldRef
    op: str
    operand: Operand
    line: int = 0


@dataclass(frozen=True)
class AllOf:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Not:
    item: Cond


@dataclass(frozen=True)
class Quantified:
    """`some` (at least one item matches) or `none` (no item matches) of a collection."""

    kind: Literal["some", "none"]
    collection: str
    where: Cond | None
    line: int = 0


@dataclass(frozen=True)
class SumOf:
    """Sum of one number field over the items that match `where`, compared to an operand."""

    name: str
    collection: str
    of: str
    where: Cond | None
    op: str
    operand: Operand
    line: int = 0


Cond = Compare | AllOf | AnyOf | Not | Quantified | SumOf


@dataclass(frozen=True)
class Band:
    """Severity when `when` holds (None: always). The first matching band wins.

    `message`, when given, replaces the rule's message for flags of this band: the same
    finding may need different words depending on which side of a boundary the values lie
    (a guarantee lapsing before the contract ends versus shortly after it)."""

    level: Severity
    when: Cond | None = None
    message: str | None = None


@dataclass(frozen=True)
class ExpectedFlag:
    severity: Severity | None = None
    subject: str | None = None
    message: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Example:
    """A contract (the file's base merged with `contract`) and the flags the rule gives."""

    name: str
    contract: dict[str, Any]
    as_of: dt.date
    params: dict[str, Decimal]
    fires: tuple[ExpectedFlag, ...]
    source: str
    line: int
    #: What the counterparty register says (SPEC 7); absent: an unregistered counterparty.
    register: RegisterFacts = UNREGISTERED
    #: The thresholds the example was written for: its file's `params:` with its own
    #: `params:` on top. `rules test` runs it with these, whatever config/risk.yaml says.
    written_for: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One rule. `for_each` names a collection: the rule is tested per item and every
    matching item gives its own flag (subject = the item's id)."""

    id: str
    category: str
    description: str
    params: tuple[str, ...]
    for_each: str | None
    when: Cond
    bands: tuple[Band, ...]
    message: str
    evidence: tuple[str, ...]
    source: str
    line: int
    examples: tuple[Example, ...] = ()

    def message_of(self, band: int) -> str:
        """The message template of a flag given by severity band `band`."""
        return self.bands[band].message or self.message


@dataclass(frozen=True)
class RuleSet:
    """The rules in force and the checksum of their source text (stored beside every flag)."""

    rules: tuple[Rule, ...]
    checksum: str
    sources: dict[str, str] = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def params(self) -> tuple[str, ...]:
        names: list[str] = []
        for r in self.rules:
            names.extend(p for p in r.params if p not in names)
        return tuple(names)
