"""Realistic generated contracts for the risk benchmarks: about 3 guarantees, 10 obligations
and 3 installments each, with terms spread around every threshold of the catalogue."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from engine.domain.contract import Contract

KINDS = [
    "bank_guarantee",
    "standby_lc",
    "credit_insurance",
    "collateral",
    "parent_guarantee",
    "advance_payment_guarantee",
    "performance_bond",
]
RATINGS = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC", None]
CURRENCIES = ["CNY", "CNY", "CNY", "USD", "EUR"]
AS_OF = dt.date(2027, 3, 1)


def contract_data(i: int, rng: random.Random) -> dict[str, Any]:
    """One contract; most are clean, as in a real portfolio (about 1.5 flags each)."""
    start = AS_OF - dt.timedelta(days=rng.randint(0, 400))
    end = start + dt.timedelta(days=rng.randint(180, 900))
    amount = Decimal(rng.choice([50_000, 120_000, 400_000, 650_000, 999_999, 1_500_000, 8_000_000]))
    direction = rng.choice(["sell", "sell", "buy"])
    obligations = []
    for n in range(10):
        due = AS_OF + dt.timedelta(days=rng.randint(-200, 200))
        if due < AS_OF:
            status = "fulfilled" if rng.random() < 0.95 else rng.choice(["open", "waived"])
        else:
            status = "open" if rng.random() < 0.95 else "waived"
        obligations.append(
            {
                "id": f"OB-{n + 1}",
                "party": rng.choice(["us", "counterparty"]),
                "kind": rng.choice(["payment", "delivery", "service", "document"]),
                "due": due.isoformat(),
                "amount": str(amount / 10),
                "status": status,
                **({"fulfilled_on": due.isoformat()} if status == "fulfilled" else {}),
            }
        )
    secured = amount > 1_000_000 and rng.random() < 0.8
    guarantees = [
        {
            "kind": rng.choice(KINDS[:5] if secured and g == 0 else KINDS),
            "amount": str(amount * Decimal(rng.choice(["0.05", "0.1", "0.2", "0.3"]))),
            "expires_on": (end + dt.timedelta(days=rng.choice([45, 60, 90, 180, 10]))).isoformat(),
        }
        for g in range(3)
    ]
    return {
        "id": f"SC-B-{i:07d}",
        "title": f"Benchmark contract {i}",
        "direction": direction,
        "counterparty": {
            "name": f"Counterparty {i % 997}",
            "credit_rating": rng.choice(["AAA", "AA", "A", "A", "BBB", "BBB", "BB", "B", None]),
        },
        "currency": rng.choice(CURRENCIES),
        "amount": str(amount),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "payment_terms": {
            "prepayment_percent": rng.choice([0, 0, 10, 20, 30, 40]),
            "net_days": rng.choice([30, 30, 45, 60, 60, 90, 91, 120, 181]),
            "late_penalty_percent_per_day": "0.05" if rng.random() < 0.85 else None,
            "installments": [
                {"percent": 30, "due": (start + dt.timedelta(days=10)).isoformat()},
                {"percent": 30, "due": (start + dt.timedelta(days=100)).isoformat()},
                {"percent": 40, "due": (start + dt.timedelta(days=200)).isoformat()},
            ],
        },
        "guarantees": guarantees,
        "liability_cap_percent": rng.choice([100, 100, 150, 200, 200, 100, 150, None, 250, 100]),
        "auto_renewal": rng.random() < 0.3,
        "renewal_notice_days": rng.choice([None, 30, 60, 90, 15]),
        "obligations": obligations,
    }


def contracts(n: int, seed: int = 7) -> list[Contract]:
    rng = random.Random(seed)
    return [Contract.model_validate(contract_data(i, rng)) for i in range(n)]
