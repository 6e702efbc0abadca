"""Reading the vocabulary of `engine.domain.rules` off a `Contract`.

Both backends read values through these getters, so "amount in the base currency" or
"days past due" mean the same thing whether durable_rules or Python decides. Enumerations
come back as the model's `StrEnum` members (which are their text), absent values as None.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.domain.contract import Contract
from engine.domain.counterparty import effective_rating, outstanding, register_of
from engine.domain.riskconfig import RiskConfig


@dataclass(frozen=True)
class Env:
    """What one evaluation reads besides the contract: the date, thresholds and money."""

    as_of: dt.date
    params: Mapping[str, Decimal]
    config: RiskConfig


#: An item of a collection and its position (installments have no id of their own).
Item = tuple[Any, int]
Getter = Callable[[Contract, Env], Any]
ItemGetter = Callable[[Any, int, Contract, Env], Any]


def _base(amount: Decimal | None, c: Contract, e: Env) -> Decimal | None:
    return None if amount is None else e.config.to_base(amount, c.currency)


CONTRACT_GETTERS: dict[str, Getter] = {
    "id": lambda c, e: c.id,
    "title": lambda c, e: c.title,
    "direction": lambda c, e: c.direction,
    "currency": lambda c, e: c.currency,
    "amount": lambda c, e: c.amount,
    "amount_base": lambda c, e: e.config.to_base(c.amount, c.currency),
    "exposure": lambda c, e: c.exposure,
    "exposure_base": lambda c, e: e.config.to_base(c.exposure, c.currency),
    "start_date": lambda c, e: c.start_date,
    "end_date": lambda c, e: c.end_date,
    "owner": lambda c, e: c.owner,
    "counterparty.name": lambda c, e: c.counterparty.name,
    "counterparty.country": lambda c, e: c.counterparty.country,
    "counterparty.code": lambda c, e: c.counterparty.code,
    "counterparty.credit_rating": lambda c, e: effective_rating(c),
    "counterparty.status": lambda c, e: register_of(c).status,
    "counterparty.credit_limit": lambda c, e: register_of(c).credit_limit,
    "counterparty.exposure_other": lambda c, e: register_of(c).exposure_other,
    "counterparty.exposure_total": lambda c, e: (
        register_of(c).exposure_other + outstanding(c, e.config.to_base)
    ),
    "outstanding": lambda c, e: outstanding(c, e.config.to_base),
    "payment_terms.prepayment_percent": lambda c, e: c.payment_terms.prepayment_percent,
    "payment_terms.net_days": lambda c, e: c.payment_terms.net_days,
    "payment_terms.late_penalty_percent_per_day": lambda c, e: (
        c.payment_terms.late_penalty_percent_per_day
    ),
    "liability_cap_percent": lambda c, e: c.liability_cap_percent,
    "auto_renewal": lambda c, e: c.auto_renewal,
    "renewal_notice_days": lambda c, e: c.renewal_notice_days,
    "governing_law": lambda c, e: c.governing_law,
}


def _days_past_due(item: Any, c: Contract, e: Env) -> int:
    return (e.as_of - item.due).days


def _days_after_end(item: Any, c: Contract) -> int | None:
    return None if item.expires_on is None else (item.expires_on - c.end_date).days


def _days_before_end(item: Any, c: Contract) -> int | None:
    return None if item.expires_on is None else (c.end_date - item.expires_on).days


ITEM_GETTERS: dict[str, dict[str, ItemGetter]] = {
    "guarantees": {
        "id": lambda g, i, c, e: g.id,
        "kind": lambda g, i, c, e: g.kind,
        "amount": lambda g, i, c, e: g.amount,
        "amount_base": lambda g, i, c, e: _base(g.amount, c, e),
        "issuer": lambda g, i, c, e: g.issuer,
        "expires_on": lambda g, i, c, e: g.expires_on,
        "days_after_end": lambda g, i, c, e: _days_after_end(g, c),
        "days_before_end": lambda g, i, c, e: _days_before_end(g, c),
    },
    "obligations": {
        "id": lambda o, i, c, e: o.id,
        "party": lambda o, i, c, e: o.party,
        "kind": lambda o, i, c, e: o.kind,
        "description": lambda o, i, c, e: o.description,
        "due": lambda o, i, c, e: o.due,
        "amount": lambda o, i, c, e: o.amount,
        "amount_base": lambda o, i, c, e: _base(o.amount, c, e),
        "status": lambda o, i, c, e: o.status,
        "fulfilled_on": lambda o, i, c, e: o.fulfilled_on,
        "owner": lambda o, i, c, e: o.owner,
        "days_past_due": lambda o, i, c, e: _days_past_due(o, c, e),
    },
    "installments": {
        "id": lambda n, i, c, e: f"I-{i + 1}",
        "percent": lambda n, i, c, e: n.percent,
        "due": lambda n, i, c, e: n.due,
        "label": lambda n, i, c, e: n.label,
        "days_past_due": lambda n, i, c, e: _days_past_due(n, c, e),
    },
}


def items(contract: Contract, collection: str) -> Sequence[Any]:
    if collection == "guarantees":
        return contract.guarantees
    if collection == "obligations":
        return contract.obligations
    return contract.payment_terms.installments or ()


def subject_of(collection: str, item: Any, index: int, contract: Contract, env: Env) -> str:
    return str(ITEM_GETTERS[collection]["id"](item, index, contract, env))


def shift_date(value: dt.date, delta: dt.timedelta) -> dt.date:
    """`value + delta`, held at the ends of the calendar instead of raising OverflowError.

    A contract may end on 9999-12-31; a rule that adds a grace period to it must still
    answer. durable_rules works on day numbers, where the sum simply lies past the last
    date, so it compares the same way the held date does against any real date."""
    try:
        return value + delta
    except OverflowError:
        return dt.date.max if delta.days > 0 else dt.date.min
