"""Withdrawing a contract that is not yet signed (SPEC section 12), on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import Conflict, Forbidden, InvalidInput
from engine.services import audit, lifecycle
from engine.services.alerts import plan_alerts
from engine.services.dashboard import dashboard
from engine.services.runtime import Runtime
from engine.services.sla import escalate_overdue_tasks
from engine.services.views import list_contracts, list_tasks, show
from engine.store import models as m
from tests.integration.workflow.support import contract_file
from tests.support import FrozenClock


def open_task(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def test_a_rejected_contract_can_be_withdrawn_and_leaves_every_active_list(
    wrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    view = lifecycle.act(wrt, open_task(view, "legal"), "reject", "lena", "terms unacceptable")
    assert (view.stage, view.status) == ("drafting", "active")

    view = lifecycle.withdraw(wrt, view.id, "alice", "the customer chose another supplier")

    assert (view.stage, view.status) == ("drafting", "withdrawn")
    event = view.history[-1]
    assert (event.action, event.actor, event.comment) == (
        "withdraw",
        "alice",
        "the customer chose another supplier",
    )
    assert [c.id for c in list_contracts(wrt, status="active")] == []
    assert [c.id for c in list_contracts(wrt, status="withdrawn")] == [view.id]
    assert sum(c.value for c in dashboard(wrt).contracts_by_stage) == 0
    assert audit.verify(wrt, view.id).verified
    with pytest.raises(Conflict, match="withdrawn"):
        lifecycle.revise(
            wrt, view.id, contract_file(tmp_path, "again.yaml", amount=500000), "alice"
        )


def test_withdrawing_in_review_cancels_its_open_tasks(
    wrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice")  # legal + finance
    assert len(list_tasks(wrt, "lena")) == 1

    view = lifecycle.withdraw(wrt, view.id, "alice", "duplicate of SC-2026-0041")

    assert {t.status for t in view.tasks} == {"cancelled"}
    assert list_tasks(wrt, "lena") == [] and list_tasks(wrt, "fei") == []
    assert view.history[-1].details["cancelled_tasks"] == [t.id for t in view.tasks]
    clock.now += dt.timedelta(days=10)
    assert escalate_overdue_tasks(wrt) == 0  # a cancelled task has no SLA


def test_a_withdrawn_contract_gets_no_alerts_and_its_queued_ones_are_cancelled(
    wrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    clock.now += dt.timedelta(days=3, minutes=1)
    assert escalate_overdue_tasks(wrt) == 1  # an escalation email waits in the outbox

    lifecycle.withdraw(wrt, view.id, "alice", "no longer needed")

    with wrt.db.sessions() as session:
        rows = list(session.scalars(select(m.OutboxMessage)))
    # The escalation waits; so may the task emails of the submit (their own kind, task_notice).
    assert {(r.kind, r.status) for r in rows if r.kind != "task_notice"} == {
        ("task_escalation", "cancelled")
    }
    assert plan_alerts(wrt).planned == 0  # OB-1 is 33 days overdue, but the contract is gone


def test_only_the_owner_submitter_or_an_admin_withdraws_and_only_with_a_reason(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    with pytest.raises(Forbidden, match="only its owner, its submitter or an admin"):
        lifecycle.withdraw(wrt, view.id, "anna", "not mine")
    with pytest.raises(Forbidden):
        lifecycle.withdraw(wrt, view.id, "lena", "legal does not like it")
    with pytest.raises(InvalidInput, match="--reason"):
        lifecycle.withdraw(wrt, view.id, "alice", "  ")
    assert lifecycle.withdraw(wrt, view.id, "root", "cleanup").status == "withdrawn"
    with pytest.raises(Conflict, match="withdrawn"):
        lifecycle.withdraw(wrt, view.id, "alice", "again")


def test_a_signed_contract_cannot_be_withdrawn(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    assert view.stage == "fulfilment"
    with pytest.raises(Conflict, match="signed"):
        lifecycle.withdraw(wrt, view.id, "alice", "changed our mind")
    assert show(wrt, view.id).status == "active"
