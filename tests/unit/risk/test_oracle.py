"""The oracle: durable_rules and the Python predicates give identical flags.

Hypothesis builds contracts whose numbers and dates sit on, just under and just over every
threshold of the catalogue (and of overridden thresholds), with counterparty register facts
(status, credit limits on and around what is owed, the register's rating) on half of them,
and compares whole reports.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.definitions.riskconfig import load_risk_config
from engine.domain.contract import Contract, CreditRating
from engine.domain.counterparty import CounterpartyStatus, RegisterFacts, outstanding, with_register
from engine.risk.flags import effective_params
from engine.risk.pool import DurableEvaluator
from engine.risk.python import PythonEvaluator
from engine.risk.values import Env
from engine.services.counterparties import MAX_CREDIT_LIMIT
from engine.settings import PROJECT_ROOT
from tests.unit.risk.readings import assert_second_readings_agree

AS_OF = dt.date(2027, 1, 4)
CONFIG = load_risk_config(PROJECT_ROOT / "config" / "risk.yaml")
EXAMPLES = 400


def around(*values: int | str) -> st.SearchStrategy[Decimal]:
    """A threshold, a hair under and over it, and a few ordinary values."""
    out: list[Decimal] = []
    for v in values:
        d = Decimal(v)
        out += [d - Decimal("0.01"), d, d + Decimal("0.01")]
    return st.sampled_from([x for x in out if x > 0])


def day_around(*offsets: int) -> st.SearchStrategy[dt.date]:
    return st.sampled_from([AS_OF + dt.timedelta(days=o + k) for o in offsets for k in (-1, 0, 1)])


EXTREME = [Decimal("9999999999999999.99"), Decimal("0.01"), Decimal("1E+15")]
# 0.00001 and 0.000001 are written 1e-05 / 1e-06 as floats, which durable_rules refused.
PENALTIES = [Decimal("0.05"), Decimal("0.00001"), Decimal("0.000001"), Decimal("99.999999")]

KINDS = st.sampled_from(
    [
        "bank_guarantee",
        "standby_lc",
        "credit_insurance",
        "collateral",
        "parent_guarantee",
        "advance_payment_guarantee",
        "performance_bond",
    ]
)


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    currency = draw(st.sampled_from(["CNY", "CNY", "USD", "JPY"]))
    # Besides the thresholds: the extremes the schema allows (issue 18.3: 16 digits and
    # cents crashed the durable_rules worker, written as the float 1e+16).
    amount = draw(around(1000000, 2000000, 500000, 140845, 21276596) | st.sampled_from(EXTREME))
    end = draw(day_around(0, 200, 365))
    guarantees = [
        {
            "kind": draw(KINDS),
            "amount": draw(around(100000, 200000, 1000)),
            "expires_on": draw(
                st.none() | st.sampled_from([end + dt.timedelta(days=d) for d in (29, 30, 31, -5)])
            ),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    obligations = []
    for n in range(draw(st.integers(0, 4))):
        status = draw(st.sampled_from(["open", "open", "fulfilled", "waived"]))
        due = draw(day_around(0, -7, -8, 14, 15, 60, 61, -60, -61, -14, -15))
        obligations.append(
            {
                "id": f"OB-{n}",
                "party": draw(st.sampled_from(["us", "counterparty"])),
                "kind": "payment",
                "due": due,
                "status": status,
                "fulfilled_on": due if status == "fulfilled" else None,
            }
        )
    data: dict[str, Any] = {
        "id": "SC-ORACLE",
        "title": "oracle",
        "direction": draw(st.sampled_from(["sell", "buy"])),
        "counterparty": {
            "name": "x",
            "credit_rating": draw(st.sampled_from([None, "AAA", "BBB", "BB", "B", "D"])),
        },
        "currency": currency,
        "amount": amount,
        "start_date": AS_OF - dt.timedelta(days=400),
        "end_date": end,
        "payment_terms": {
            "prepayment_percent": draw(around(30, 50, 1)),
            "net_days": draw(st.sampled_from([0, 89, 90, 91, 179, 180, 181])),
            "late_penalty_percent_per_day": draw(st.none() | st.sampled_from(PENALTIES)),
        },
        "guarantees": guarantees,
        "liability_cap_percent": draw(st.none() | around(200, 100)),
        "auto_renewal": draw(st.booleans()),
        "renewal_notice_days": draw(st.none() | st.sampled_from([29, 30, 31])),
        "obligations": obligations,
    }
    contract = Contract.model_validate(data)
    # Register facts (SPEC 7): limits around what this contract and the others owe.
    if draw(st.booleans()):
        owed = outstanding(contract, CONFIG.to_base)
        other = draw(st.sampled_from([Decimal(0), Decimal("0.01"), Decimal(1000000)]))
        limit = draw(
            st.none()
            | st.sampled_from(
                [Decimal(0), owed + other - Decimal("0.01"), owed + other, owed + other + 1]
            )
        )
        facts = RegisterFacts(
            status=draw(st.sampled_from(list(CounterpartyStatus))),
            # The register refuses limits of 10^13 and more (MAX_CREDIT_LIMIT).
            credit_limit=None
            if limit is None or limit >= MAX_CREDIT_LIMIT
            else max(limit, Decimal(0)),
            exposure_other=other,
            rating=draw(st.sampled_from([None, CreditRating.AAA, CreditRating.BB, CreditRating.D])),
        )
        contract = with_register(contract, facts)
    return contract


PARAMS = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "exposure_limit": st.sampled_from(
            [Decimal(0), Decimal(500000), Decimal(2000000), Decimal("1E-7"), Decimal("1E+15")]
        ),
        "net_days_medium": st.sampled_from([Decimal(30), Decimal(91)]),
        "overdue_high_days": st.sampled_from([Decimal(0), Decimal(30)]),
        "guarantee_min_percent": st.sampled_from(
            [Decimal(5), Decimal("12.5"), Decimal("1E-7"), Decimal("0.00000001")]
        ),
        "due_soon_days": st.sampled_from([Decimal(0), Decimal(30)]),
    },
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batch=st.lists(contracts(), min_size=1, max_size=5), params=PARAMS)
def test_durable_and_python_backends_give_identical_flags(
    python_backend: PythonEvaluator,
    durable_backend: DurableEvaluator,
    batch: list[Contract],
    params: dict[str, Decimal] | None,
) -> None:
    expected = python_backend.evaluate(batch, AS_OF, params)
    actual = durable_backend.evaluate(batch, AS_OF, params)
    assert [r.flags for r in actual] == [r.flags for r in expected]
    # The closures behind `--explain` decide the same as the generated functions.
    env = Env(AS_OF, effective_params(python_backend.config, params), python_backend.config)
    for contract, report in zip(batch, expected, strict=True):
        closures = sorted(
            (h.rule.id, h.band, h.item[1] if h.item else -1)
            for compiled in python_backend._compiled
            for h in compiled.hits(contract, env)
        )
        assert len(closures) == len(report.flags)
        assert {r for r, _, _ in closures} == {f.rule for f in report.flags}
    assert_second_readings_agree(python_backend.rules, batch, env, [r.flags for r in expected])
