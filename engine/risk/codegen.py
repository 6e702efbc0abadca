"""Python expression templates for the vocabulary of `engine.domain.rules`.

The generated code of `engine.risk.program` (the Python backend's scoring function) and of
`engine.risk.durable_facts` (the values the durable workers' facts carry) reads contract
and item fields through these templates and helpers, so both mean by "amount in the base
currency" or "days past due" what `engine.risk.values` means (the closures behind
`--explain`). Only templates declared here are spliced into generated source; values from
rule files never are.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from engine.risk.values import Env, shift_date

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
    "counterparty.code": "c.counterparty.code",
    "counterparty.credit_rating": "_rating(c)",
    "counterparty.status": "_reg(c).status",
    "counterparty.credit_limit": "_reg(c).credit_limit",
    "counterparty.exposure_other": "_reg(c).exposure_other",
    "counterparty.exposure_total": "(_reg(c).exposure_other + _outstanding(c, e.config.to_base))",
    "outstanding": "_outstanding(c, e.config.to_base)",
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
        "days_after_end": (
            "(None if {x}.expires_on is None else ({x}.expires_on - c.end_date).days)"
        ),
        "days_before_end": (
            "(None if {x}.expires_on is None else (c.end_date - {x}.expires_on).days)"
        ),
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
    "counterparty.status",
    "counterparty.exposure_other",
    "outstanding",
    "counterparty.exposure_total",
}


def _base(amount: Decimal | None, currency: str, e: Env) -> Decimal | None:
    return None if amount is None else e.config.to_base(amount, currency)


def _shift(value: dt.date | None, days: Any) -> dt.date | None:
    return None if value is None else shift_date(value, dt.timedelta(days=int(days)))


def _pct(value: Decimal | None, pct: Any) -> Decimal | None:
    return None if value is None else value * Decimal(pct) / 100


def _total(values: Any) -> Decimal:
    out = Decimal(0)
    for v in values:
        if v is not None:
            out += v
    return out
