"""The dashboard's amounts beside its counts, in the base currency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from engine.services import lifecycle
from engine.services.dashboard import dashboard
from engine.services.runtime import Runtime
from tests.integration.workflow.support import contract_file


def open_task(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def test_the_dashboard_shows_contract_value_overdue_receivables_and_exposure(
    wrt: Runtime, tmp_path: Path
) -> None:
    signed = lifecycle.submit(
        wrt, contract_file(tmp_path, "a.yaml", id="SC-A", title="Pumps [high]"), "alice"
    )
    signed = lifecycle.act(wrt, open_task(signed, "legal"), "approve", "lena")
    signed = lifecycle.act(wrt, open_task(signed, "finance"), "approve", "fei")
    signed = lifecycle.act(wrt, open_task(signed, "risk_officer"), "approve", "rita")
    signed = lifecycle.act(wrt, open_task(signed, "signer"), "approve", "sam")
    assert signed.stage == "fulfilment"
    # a second one still in review: its overdue OB-1 is a term, not a receivable yet
    lifecycle.submit(wrt, contract_file(tmp_path, "b.yaml", id="SC-B", amount=500000), "alice")

    d = dashboard(wrt)
    assert d.base_currency == "CNY"
    assert d.active_value == Decimal("2900000.00")
    assert d.overdue_receivables == Decimal("720000.00")  # SC-A's OB-1, due 2026-12-05
    assert {(e.label, e.amount, e.contracts) for e in d.exposure_by_severity} == {
        ("high", Decimal("2400000.00"), 1),
        ("none", Decimal("500000.00"), 1),
    }

    lifecycle.fulfil_obligation(wrt, "SC-A", "OB-1", "alice", on=dt.date(2026, 12, 5))
    d = dashboard(wrt)
    assert d.overdue_receivables == Decimal("0.00")
    assert ("high", Decimal("1680000.00"), 1) in {
        (e.label, e.amount, e.contracts) for e in d.exposure_by_severity
    }
