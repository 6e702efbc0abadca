"""The guarantee-expiry flag says on which side of the contract's end the guarantee lapses
(issue 16.7): one lapsing six months before the end is not "less than 30 days after" it.
Both backends word it the same, since the band that fires picks the message."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.domain.contract import Contract
from engine.risk.pool import DurableEvaluator
from engine.risk.python import PythonEvaluator

AS_OF = dt.date(2027, 1, 4)


def _contract(expires_on: dt.date) -> Contract:
    return Contract.model_validate(
        {
            "id": "SC-EXPIRY",
            "title": "Expiry wording",
            "direction": "sell",
            "counterparty": {"name": "Example Trading Co.", "credit_rating": "A"},
            "currency": "CNY",
            "amount": 500000,
            "start_date": dt.date(2027, 1, 1),
            "end_date": dt.date(2027, 12, 31),
            "payment_terms": {"net_days": 30},
            "liability_cap_percent": 100,
            "guarantees": [
                {"id": "G-1", "kind": "collateral", "amount": 50000, "expires_on": expires_on}
            ],
        }
    )


def _expiry_messages(backend: PythonEvaluator | DurableEvaluator, contract: Contract) -> list[str]:
    report = backend.evaluate([contract], AS_OF, None)[0]
    return [f.message for f in report.flags if f.rule == "guarantees.expires_early"]


@pytest.mark.parametrize(
    ("expires_on", "message"),
    [
        (
            dt.date(2027, 6, 30),
            "Guarantee G-1 (collateral) expires on 2027-06-30, 184 days before the contract "
            "ends on 2027-12-31.",
        ),
        (
            dt.date(2027, 12, 21),
            "Guarantee G-1 (collateral) expires on 2027-12-21, 10 days before the contract "
            "ends on 2027-12-31.",
        ),
    ],
    ids=["six months before", "ten days before"],
)
def test_guarantee_lapsing_before_the_end_says_how_many_days_before(
    backend: PythonEvaluator | DurableEvaluator, expires_on: dt.date, message: str
) -> None:
    assert _expiry_messages(backend, _contract(expires_on)) == [message]


def test_guarantee_lapsing_10_days_after_the_end_says_it_is_short_of_the_grace_days(
    backend: PythonEvaluator | DurableEvaluator,
) -> None:
    assert _expiry_messages(backend, _contract(dt.date(2028, 1, 10))) == [
        "Guarantee G-1 (collateral) expires on 2028-01-10, only 10 days after the contract "
        "ends on 2027-12-31 (less than the 30 days required)."
    ]


def test_guarantee_lapsing_30_days_after_the_end_gives_no_expiry_flag(
    backend: PythonEvaluator | DurableEvaluator,
) -> None:
    assert _expiry_messages(backend, _contract(dt.date(2028, 1, 30))) == []
