"""Hypothesis strategies for valid contracts (every SPEC section 1 term, every shape)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from engine.domain.contract import Contract

# Text as people type it: any script, punctuation, inner spaces; no control characters
# (a Word cell cannot hold them) and no line/paragraph separators.
TEXT_CHARS = st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zl", "Zp"))


def text(min_size: int = 1, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(TEXT_CHARS, min_size=min_size, max_size=max_size).map(str.strip).filter(bool)


dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 12, 31))
money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2)
percent = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=4)


@st.composite
def installments(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1..5 instalments whose percents add up to exactly 100."""
    n = draw(st.integers(1, 5))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=n - 1, max_size=n - 1, unique=True)))
    bounds = [0, *cuts, 10000]
    return [
        {
            "percent": Decimal(bounds[i + 1] - bounds[i]) / 100,
            "due": draw(dates),
            "label": draw(st.none() | text()),
        }
        for i in range(n)
    ]


@st.composite
def obligation(draw: st.DrawFn, oid: str) -> dict[str, Any]:
    status = draw(st.sampled_from(["open", "fulfilled", "waived"]))
    return {
        "id": oid,
        "party": draw(st.sampled_from(["us", "counterparty"])),
        "kind": draw(st.sampled_from(["payment", "delivery", "service", "document", "other"])),
        "description": draw(st.just("") | text(max_size=80)),
        "due": draw(dates),
        "amount": draw(st.none() | st.decimals(min_value=0, max_value=Decimal("1e12"), places=2)),
        "status": status,
        "fulfilled_on": draw(dates) if status == "fulfilled" else None,
        "owner": draw(st.none() | st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)),
    }


@st.composite
def contracts(draw: st.DrawFn) -> Contract:
    start = draw(dates)
    end = start + dt.timedelta(days=draw(st.integers(0, 3000)))
    n_guarantees = draw(st.integers(0, 3))
    gids = draw(
        st.lists(
            st.from_regex(r"G-[0-9]{1,3}", fullmatch=True),
            min_size=n_guarantees,
            max_size=n_guarantees,
            unique=True,
        )
    )
    guarantees = [
        {
            "id": draw(st.none()) if i == 0 and draw(st.booleans()) else gid,
            "kind": draw(
                st.sampled_from(
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
            ),
            "amount": draw(money),
            "issuer": draw(st.none() | text()),
            "expires_on": draw(st.none() | dates),
        }
        for i, gid in enumerate(gids)
    ]
    if guarantees and guarantees[0]["id"] is None and "G-1" in gids[1:]:
        guarantees[0]["id"] = "G-999"  # the default id would collide
    n_obligations = draw(st.integers(0, 4))
    data = {
        "id": draw(st.none() | st.from_regex(r"(SC|PO)-20[0-9]{2}-[0-9]{4}", fullmatch=True)),
        "title": draw(text(max_size=80)),
        "direction": draw(st.sampled_from(["sell", "buy"])),
        "counterparty": {
            "name": draw(text()),
            "country": draw(st.none() | st.from_regex(r"[A-Z]{2}", fullmatch=True)),
            "credit_rating": draw(
                st.none()
                | st.sampled_from(["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"])
            ),
        },
        "currency": draw(st.sampled_from(["CNY", "USD", "EUR", "JPY"])),
        "amount": draw(money),
        "start_date": start,
        "end_date": end,
        "owner": draw(st.none() | st.from_regex(r"[a-z][a-z0-9_.-]{0,15}", fullmatch=True)),
        "payment_terms": {
            "prepayment_percent": draw(percent),
            "net_days": draw(st.integers(0, 3650)),
            "late_penalty_percent_per_day": draw(
                st.none() | st.decimals(min_value=0, max_value=Decimal(5), places=6)
            ),
            "installments": draw(st.none() | installments()),
        },
        "guarantees": guarantees,
        "liability_cap_percent": draw(
            st.none() | st.decimals(min_value=0, max_value=Decimal(1000), places=4)
        ),
        "auto_renewal": draw(st.booleans()),
        "renewal_notice_days": draw(st.none() | st.integers(0, 3650)),
        "governing_law": draw(st.none() | text(max_size=20)),
        "obligations": [draw(obligation(f"OB-{i}")) for i in range(1, n_obligations + 1)],
    }
    return Contract.model_validate(data)
