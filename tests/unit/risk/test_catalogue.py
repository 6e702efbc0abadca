"""SPEC section 2, row by row and boundary by boundary, on both backends.

Each case is a clean sale changed in one place; the expected flags are exactly the SPEC's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from engine.definitions.rules import merge
from engine.domain.contract import parse_contract
from engine.domain.counterparty import parse_register_facts, with_register
from engine.risk.pool import DurableEvaluator
from engine.risk.python import PythonEvaluator

AS_OF = dt.date(2027, 1, 4)
CLEAN: dict[str, Any] = {
    "title": "Clean sale",
    "direction": "sell",
    "counterparty": {"name": "Good Buyer", "credit_rating": "A"},
    "currency": "CNY",
    "amount": "500000",
    "start_date": "2026-10-01",
    "end_date": "2027-12-31",
    "payment_terms": {"net_days": 30, "late_penalty_percent_per_day": "0.05"},
    "liability_cap_percent": 100,
}


def days(n: int) -> str:
    """The date n days before AS_OF (negative: after)."""
    return (AS_OF - dt.timedelta(days=n)).isoformat()


def ob(oid: str, due: str, **extra: Any) -> dict[str, Any]:
    return {"id": oid, "party": "counterparty", "kind": "payment", "due": due, **extra}


CASES: list[tuple[str, dict[str, Any], list[tuple[str, str, str | None]]]] = [
    ("clean contract has no flags", {}, []),
    # payment_terms: net days
    ("net_days 90 does not fire", {"payment_terms": {"net_days": 90}}, []),
    (
        "net_days 91 medium",
        {"payment_terms": {"net_days": 91}},
        [("payment_terms.long_net_days", "medium", None)],
    ),
    (
        "net_days 180 medium",
        {"payment_terms": {"net_days": 180}},
        [("payment_terms.long_net_days", "medium", None)],
    ),
    (
        "net_days 181 high instead",
        {"payment_terms": {"net_days": 181}},
        [("payment_terms.long_net_days", "high", None)],
    ),
    ("buy net_days 200 no flag", {"direction": "buy", "payment_terms": {"net_days": 200}}, []),
    # payment_terms: penalty
    (
        "sell without penalty",
        {"payment_terms": {"late_penalty_percent_per_day": None}},
        [("payment_terms.no_late_penalty", "medium", None)],
    ),
    ("zero penalty is a penalty", {"payment_terms": {"late_penalty_percent_per_day": 0}}, []),
    (
        "buy without penalty",
        {"direction": "buy", "payment_terms": {"late_penalty_percent_per_day": None}},
        [],
    ),
    # payment_terms: buy prepayment
    ("buy prepay 30", {"direction": "buy", "payment_terms": {"prepayment_percent": 30}}, []),
    (
        "buy prepay 31 unsecured",
        {"direction": "buy", "payment_terms": {"prepayment_percent": 31}},
        [("payment_terms.unsecured_prepayment", "high", None)],
    ),
    *[
        (
            f"buy prepay 31 with {kind}",
            {
                "direction": "buy",
                "payment_terms": {"prepayment_percent": 31},
                "guarantees": [{"kind": kind, "amount": 1000}],
            },
            [],
        )
        for kind in ("advance_payment_guarantee", "bank_guarantee", "standby_lc")
    ],
    (
        "buy prepay 31 with collateral only",
        {
            "direction": "buy",
            "payment_terms": {"prepayment_percent": 31},
            "guarantees": [{"kind": "collateral", "amount": 1000}],
        },
        [("payment_terms.unsecured_prepayment", "high", None)],
    ),
    # guarantees: sell exposure
    ("exposure at limit", {"amount": "1000000"}, []),
    (
        "exposure above limit unsecured",
        {"amount": "1000000.01"},
        [("guarantees.missing", "high", None)],
    ),
    (
        "prepayment brings exposure to limit",
        {"amount": "2000000", "payment_terms": {"prepayment_percent": 50}},
        [],
    ),
    (
        "exposure in USD above limit",
        {"currency": "USD", "amount": "140845.08"},
        [("guarantees.missing", "high", None)],
    ),
    ("exposure in USD under limit", {"currency": "USD", "amount": "140845.07"}, []),
    *[
        (
            f"exposure secured by {kind} at 10%",
            {"amount": "2000000", "guarantees": [{"kind": kind, "amount": 200000}]},
            [],
        )
        for kind in (
            "bank_guarantee",
            "standby_lc",
            "credit_insurance",
            "collateral",
            "parent_guarantee",
        )
    ],
    (
        "security under 10%",
        {"amount": "2000000", "guarantees": [{"kind": "collateral", "amount": "199999.99"}]},
        [("guarantees.insufficient", "medium", None)],
    ),
    (
        "performance bond does not secure a sale",
        {"amount": "2000000", "guarantees": [{"kind": "performance_bond", "amount": 2000000}]},
        [("guarantees.missing", "high", None)],
    ),
    # guarantees: buy performance bond
    ("buy at limit", {"direction": "buy", "amount": "1000000"}, []),
    (
        "buy above limit without bond",
        {"direction": "buy", "amount": "1000000.01"},
        [("guarantees.no_performance_bond", "medium", None)],
    ),
    (
        "buy above limit with bond",
        {
            "direction": "buy",
            "amount": "5000000",
            "guarantees": [{"kind": "performance_bond", "amount": 1}],
        },
        [],
    ),
    # guarantees: expiry
    (
        "guarantee expires 29 days after end",
        {
            "guarantees": [
                {"id": "G-7", "kind": "bank_guarantee", "amount": 1, "expires_on": "2028-01-29"}
            ]
        },
        [("guarantees.expires_early", "medium", "G-7")],
    ),
    (
        "guarantee expires 30 days after end",
        {"guarantees": [{"kind": "bank_guarantee", "amount": 1, "expires_on": "2028-01-30"}]},
        [],
    ),
    # obligations
    (
        "due today is due soon",
        {"obligations": [ob("OB-1", days(0))]},
        [("obligations.due_soon", "low", "OB-1")],
    ),
    (
        "due in 7 days",
        {"obligations": [ob("OB-1", days(-7))]},
        [("obligations.due_soon", "low", "OB-1")],
    ),
    ("due in 8 days", {"obligations": [ob("OB-1", days(-8))]}, []),
    (
        "overdue 1",
        {"obligations": [ob("OB-1", days(1))]},
        [("obligations.overdue", "medium", "OB-1")],
    ),
    (
        "overdue 14",
        {"obligations": [ob("OB-1", days(14))]},
        [("obligations.overdue", "medium", "OB-1")],
    ),
    (
        "overdue 15",
        {"obligations": [ob("OB-1", days(15))]},
        [("obligations.overdue", "high", "OB-1")],
    ),
    (
        "overdue 60",
        {"obligations": [ob("OB-1", days(60))]},
        [("obligations.overdue", "high", "OB-1")],
    ),
    (
        "overdue 61",
        {"obligations": [ob("OB-1", days(61))]},
        [("obligations.overdue", "critical", "OB-1")],
    ),
    (
        "one flag per overdue obligation",
        {"obligations": [ob("OB-1", days(3)), ob("OB-2", days(30), party="us", kind="delivery")]},
        [("obligations.overdue", "high", "OB-2"), ("obligations.overdue", "medium", "OB-1")],
    ),
    (
        "fulfilled and waived are never flagged",
        {
            "obligations": [
                ob("OB-1", days(90), status="fulfilled", fulfilled_on=days(80)),
                ob("OB-2", days(2), status="waived"),
            ]
        },
        [],
    ),
    # liability
    ("uncapped", {"liability_cap_percent": None}, [("liability.uncapped", "high", None)]),
    ("cap 200", {"liability_cap_percent": 200}, []),
    (
        "cap 200.01",
        {"liability_cap_percent": "200.01"},
        [("liability.cap_above_limit", "medium", None)],
    ),
    # renewal
    (
        "auto renewal 29 days",
        {"auto_renewal": True, "renewal_notice_days": 29},
        [("renewal.short_notice", "low", None)],
    ),
    ("auto renewal no notice", {"auto_renewal": True}, [("renewal.short_notice", "low", None)]),
    ("auto renewal 30 days", {"auto_renewal": True, "renewal_notice_days": 30}, []),
    ("no auto renewal", {"renewal_notice_days": 1}, []),
    # counterparty
    (
        "rating BB",
        {"counterparty": {"credit_rating": "BB"}},
        [("counterparty.weak_rating", "medium", None)],
    ),
    *[
        (
            f"rating {r}",
            {"counterparty": {"credit_rating": r}},
            [("counterparty.weak_rating", "high", None)],
        )
        for r in ("B", "CCC", "CC", "C", "D")
    ],
    *[
        (f"rating {r}", {"counterparty": {"credit_rating": r}}, [])
        for r in ("AAA", "AA", "A", "BBB")
    ],
    ("no rating", {"counterparty": {"credit_rating": None}}, []),
    ("buy from a weak supplier", {"direction": "buy", "counterparty": {"credit_rating": "D"}}, []),
]


@pytest.mark.parametrize(("name", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_spec_catalogue_row(
    backend: PythonEvaluator | DurableEvaluator,
    name: str,
    change: dict[str, Any],
    expected: list[tuple[str, str, str | None]],
    risk_config: Any,
) -> None:
    contract = parse_contract(merge(CLEAN, change), risk_config.currencies)
    report = backend.evaluate([contract], AS_OF)[0]
    got = sorted((f.rule, f.severity.value, f.subject) for f in report.flags)
    assert got == sorted(expected)


def test_evidence_holds_the_values_compared(
    backend: PythonEvaluator | DurableEvaluator, risk_config: Any
) -> None:
    contract = parse_contract(
        merge(CLEAN, {"payment_terms": {"net_days": 120}}), risk_config.currencies
    )
    flag = backend.evaluate([contract], AS_OF)[0].flags[0]
    assert flag.evidence["net_days"] == 120
    assert flag.evidence["net_days_medium"] == Decimal(90)
    assert "120 days" in flag.message


def test_param_override_changes_the_threshold_for_one_call(
    backend: PythonEvaluator | DurableEvaluator, risk_config: Any
) -> None:
    contract = parse_contract(merge(CLEAN, {"amount": "3000000"}), risk_config.currencies)
    assert backend.evaluate([contract], AS_OF, {"exposure_limit": Decimal(5000000)})[0].flags == []
    assert [f.rule for f in backend.evaluate([contract], AS_OF)[0].flags] == ["guarantees.missing"]


def test_max_severity_is_the_highest_flag(
    python_backend: PythonEvaluator, risk_config: Any
) -> None:
    contract = parse_contract(
        merge(CLEAN, {"liability_cap_percent": None, "obligations": [ob("OB-1", days(61))]}),
        risk_config.currencies,
    )
    report = python_backend.evaluate([contract], AS_OF)[0]
    assert report.max_severity.value == "critical"
    assert python_backend.evaluate([parse_contract(CLEAN)], AS_OF)[0].max_severity.value == "none"


def test_param_text_is_parsed_or_refused() -> None:
    from engine.errors import InvalidInput
    from engine.services.rules import parse_params

    assert parse_params(["exposure_limit=5_000_000", "net_days_high = 120"]) == {
        "exposure_limit": Decimal(5000000),
        "net_days_high": Decimal(120),
    }
    for bad in ("net_days_high", "=3", "x=abc"):
        with pytest.raises(InvalidInput, match="expected NAME=NUMBER"):
            parse_params([bad])


#: SPEC section 7's rows: (name, change to the clean sale, register facts, expected flags).
REGISTER_CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, str, None]]]] = [
    (
        "other exposure plus outstanding one cent over the limit is high",
        {},
        {"credit_limit": "1000000", "exposure_other": "500000.01"},
        [("counterparty.credit_limit", "high", None)],
    ),
    (
        "other exposure plus outstanding exactly at the limit does not fire",
        {},
        {"credit_limit": "1000000", "exposure_other": "500000"},
        [],
    ),
    ("no credit limit never fires", {}, {"exposure_other": "99000000"}, []),
    (
        "a purchase is not held against the limit",
        {"direction": "buy"},
        {"credit_limit": "0", "exposure_other": "1"},
        [],
    ),
    ("status watch is medium", {}, {"status": "watch"}, [("counterparty.watch", "medium", None)]),
    (
        "status blocked is critical",
        {},
        {"status": "blocked"},
        [("counterparty.blocked", "critical", None)],
    ),
    ("status active has no flag", {}, {"status": "active"}, []),
    (
        "the register's rating overrides the file's",
        {"counterparty": {"credit_rating": "AAA"}},
        {"rating": "BB"},
        [("counterparty.weak_rating", "medium", None)],
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "register", "expected"), REGISTER_CASES, ids=[c[0] for c in REGISTER_CASES]
)
def test_spec_counterparty_register_row(
    backend: PythonEvaluator | DurableEvaluator,
    name: str,
    change: dict[str, Any],
    register: dict[str, Any],
    expected: list[tuple[str, str, None]],
    risk_config: Any,
) -> None:
    contract = parse_contract(merge(CLEAN, change), risk_config.currencies)
    contract = with_register(contract, parse_register_facts(register))
    report = backend.evaluate([contract], AS_OF)[0]
    got = sorted((f.rule, f.severity.value, f.subject) for f in report.flags)
    assert got == sorted(expected)


def test_credit_limit_evidence_names_limit_other_exposure_and_outstanding(
    backend: PythonEvaluator | DurableEvaluator, risk_config: Any
) -> None:
    contract = parse_contract(merge(CLEAN, {"amount": "800000"}), risk_config.currencies)
    facts = parse_register_facts({"credit_limit": "1000000", "exposure_other": "300000"})
    flag = backend.evaluate([with_register(contract, facts)], AS_OF)[0].flags[0]
    assert flag.rule == "counterparty.credit_limit"
    assert flag.evidence == {
        "credit_limit": Decimal(1000000),
        "exposure_other": Decimal(300000),
        "outstanding": Decimal(800000),
    }
