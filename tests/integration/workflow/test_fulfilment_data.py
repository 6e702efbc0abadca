"""Fulfilment data is true (SPEC section 12): recorded only in the stage that tracks
obligations, never dated in the future, before the start only when forced with a reason,
revertible with a reason, and every record names its obligation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.errors import Conflict, InvalidInput
from engine.services import audit, lifecycle
from engine.services.alerts import plan_alerts
from engine.services.runtime import Runtime
from tests.integration.workflow.support import contract_file


def open_task(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def signed(wrt: Runtime, tmp_path: Path) -> lifecycle.ContractView:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    assert view.stage == "fulfilment"
    return view


def test_obligations_are_not_recorded_before_the_contract_is_signed(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    assert view.stage == "legal_review"
    with pytest.raises(Conflict, match=r"stage legal_review.*signed.*stage fulfilment"):
        lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice", on=dt.date(2026, 12, 5))
    with pytest.raises(Conflict, match="stage legal_review"):
        lifecycle.waive_obligation(wrt, view.id, "OB-1", "alice", comment="paid in kind")


def test_obligation_alerts_wait_until_the_contract_is_signed(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    # OB-1 was due 2026-12-05, a month before the test's today: overdue as a term, and
    # flagged in review, but not alerted until the contract is signed.
    assert plan_alerts(wrt).planned == 0
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    assert plan_alerts(wrt).planned == 1


def test_a_fulfilment_date_in_the_future_is_refused(wrt: Runtime, tmp_path: Path) -> None:
    view = signed(wrt, tmp_path)
    with pytest.raises(
        InvalidInput, match=r"--on: 2027-01-05 is in the future \(today is 2027-01-04\)"
    ):
        lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice", on=dt.date(2027, 1, 5))
    assert lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice").obligations[
        0
    ].fulfilled_on == (dt.date(2027, 1, 4))


def test_a_fulfilment_before_the_start_needs_force_and_a_comment(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = signed(wrt, tmp_path)  # starts 2026-12-01
    early = dt.date(2026, 11, 20)
    with pytest.raises(InvalidInput, match=r"before the contract starts \(2026-12-01\).*--force"):
        lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice", on=early)
    with pytest.raises(InvalidInput, match="--force"):
        lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice", on=early, force=True)
    view = lifecycle.fulfil_obligation(
        wrt, view.id, "OB-1", "alice", on=early, comment="paid with the order", force=True
    )
    event = view.history[-1]
    assert event.details["forced"] is True and event.comment == "paid with the order"


def test_fulfilment_history_names_the_obligation(wrt: Runtime, tmp_path: Path) -> None:
    view = signed(wrt, tmp_path)
    view = lifecycle.fulfil_obligation(
        wrt, view.id, "OB-1", "alice", on=dt.date(2026, 12, 5), comment="bank slip 1142"
    )
    details = view.history[-1].details
    assert (details["obligation"], details["description"], details["on"]) == (
        "OB-1",
        "Advance payment of 30%",
        "2026-12-05",
    )


def test_a_fulfilment_recorded_by_mistake_is_reverted_with_a_reason(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = signed(wrt, tmp_path)
    lifecycle.fulfil_obligation(wrt, view.id, "OB-2", "alice", on=dt.date(2027, 1, 3))
    with pytest.raises(InvalidInput, match="--reason"):
        lifecycle.revert_obligation(wrt, view.id, "OB-2", "alice", "")
    with pytest.raises(Conflict, match="nothing to revert"):
        lifecycle.revert_obligation(wrt, view.id, "OB-1", "alice", "wrong row")

    view = lifecycle.revert_obligation(
        wrt, view.id, "OB-2", "alice", "recorded on the wrong contract"
    )

    ob = next(o for o in view.obligations if o.id == "OB-2")
    assert (ob.status, ob.fulfilled_on) == ("open", None)
    event = view.history[-1]
    assert (event.action, event.comment) == ("revert_obligation", "recorded on the wrong contract")
    assert (event.details["was"], event.details["was_on"]) == ("fulfilled", "2027-01-03")
    assert audit.verify(wrt, view.id).verified
