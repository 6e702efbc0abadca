"""Contracts for register tests: a clean sale (no other flags) to a named counterparty."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.definitions.rules import merge
from engine.domain.contract import Contract, parse_contract
from engine.risk.pool import DurableEvaluator
from engine.risk.python import PythonEvaluator
from engine.services.runtime import Runtime

HUADONG = "Huadong Machinery Co., Ltd."
CODE = "91350100M000100Y43"


def sale(cid: str, amount: int | str = 500000, **change: Any) -> Contract:
    data: dict[str, Any] = {
        "id": cid,
        "title": f"Sale {cid}",
        "direction": "sell",
        "counterparty": {"name": HUADONG, "credit_rating": "A"},
        "currency": "CNY",
        "amount": str(amount),
        "start_date": "2027-01-01",
        "end_date": "2027-12-31",
        "owner": "alice",
        "payment_terms": {"net_days": 30, "late_penalty_percent_per_day": "0.05"},
        "liability_cap_percent": 100,
        "guarantees": [{"kind": "bank_guarantee", "amount": str(Decimal(amount))}],
    }
    return parse_contract(merge(data, change), None)


def use_backend(rt: Runtime, backend: str) -> None:
    """The real rules in force, on the backend asked for (the runtime closes it)."""
    if backend == "python":
        rt.set_evaluator(PythonEvaluator(rt.rules, rt.risk_config))
    else:
        rt.set_evaluator(DurableEvaluator(rt.rules, rt.risk_config, workers=1))
