"""After signing (SPEC section 8): amendments through their own workflow, renewals,
termination and recurring obligations, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import Conflict, Forbidden, InvalidInput
from engine.services import audit, lifecycle
from engine.services.runtime import Runtime
from engine.services.views import list_tasks, show
from engine.store import models as m
from tests.integration.workflow.support import contract_file


def open_task(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def signed(wrt: Runtime, tmp_path: Path, **changes: object) -> lifecycle.ContractView:
    """The SPEC example (500,000: no finance review), approved and signed: in fulfilment."""
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000, **changes), "alice")
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    assert view.stage == "fulfilment"
    return view


def amended_file(tmp_path: Path, name: str = "amended.yaml", **changes: object) -> Path:
    return contract_file(tmp_path, name, **{"amount": 500000, **changes})


def amendment_task(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open" and t.amendment)


def test_an_amendment_goes_through_review_and_signing_then_is_in_force(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = signed(wrt, tmp_path)
    view = lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice", on=dt.date(2027, 1, 3))
    changed = amended_file(tmp_path, amount=550000, title="Supply of 44 centrifugal pumps")
    view = lifecycle.amend(wrt, view.id, changed, "price change", "alice")
    # The contract stays in fulfilment under the terms in force while the amendment runs.
    assert (view.stage, view.revision, view.amount) == ("fulfilment", 1, 500000)
    [a] = view.amendments
    assert (a.number, a.status, a.reason, a.stage) == (1, "open", "price change", "legal_review")
    assert {c.field for c in a.changes} == {"amount", "title"}
    assert [t.role for t in view.tasks if t.status == "open"] == ["legal"]
    # Amendment tasks are in the reviewers' inboxes, like any task.
    assert [t.amendment for t in list_tasks(wrt, "lena")] == [1]
    view = lifecycle.act(wrt, amendment_task(view, "legal"), "approve", "lena")
    assert (view.stage, view.amendments[0].stage, view.revision) == ("fulfilment", "signing", 1)
    view = lifecycle.act(wrt, amendment_task(view, "signer"), "approve", "sue")
    assert (view.stage, view.revision, view.amount, view.title) == (
        "fulfilment",
        2,
        550000,
        "Supply of 44 centrifugal pumps",
    )
    assert (view.amendments[0].status, view.amendments[0].revision) == ("in_force", 2)
    # Matched by id, the fulfilled obligation stays fulfilled under the new revision.
    assert {o.id: o.status for o in view.obligations}["OB-1"] == "fulfilled"
    assert [r.number for r in view.revisions] == [1, 2]
    assert {c.field for c in view.revisions[1].changes} >= {"amount", "title"}
    assert [h.action for h in view.history][-3:] == ["amend", "approve", "approve"]
    assert view.history[-1].details["outcome"] == "in_force"
    assert audit.verify(wrt, view.id).verified


def test_obligations_removed_by_an_amendment_are_waived_with_its_reason(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = signed(wrt, tmp_path)
    kept = [o for o in view.terms["obligations"] if o["id"] != "OB-3"]
    changed = amended_file(tmp_path, obligations=kept)
    view = lifecycle.amend(wrt, view.id, changed, "balance dropped", "alice")
    view = lifecycle.act(wrt, amendment_task(view, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, amendment_task(view, "signer"), "approve", "sam")
    assert {o.id: o.status for o in view.obligations}["OB-3"] == "waived"
    last = view.history[-1]
    assert (last.details["waived"], last.details["waived_reason"]) == (["OB-3"], "balance dropped")


def test_a_rejected_amendment_changes_nothing_and_another_may_follow(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = signed(wrt, tmp_path)
    before = (view.revision, view.amount, [(o.id, o.status) for o in view.obligations])
    view = lifecycle.amend(wrt, view.id, amended_file(tmp_path, amount=900000), "more", "alice")
    view = lifecycle.act(wrt, amendment_task(view, "legal"), "reject", "lena", comment="not agreed")
    assert view.amendments[0].status == "rejected"
    assert (view.revision, view.amount, [(o.id, o.status) for o in view.obligations]) == before
    assert not [t for t in view.tasks if t.status == "open"]
    # A second amendment in sequence, numbered 2.
    view = lifecycle.amend(wrt, view.id, amended_file(tmp_path, amount=600000), "again", "alice")
    assert [(a.number, a.status) for a in view.amendments] == [(1, "rejected"), (2, "open")]


def test_only_one_amendment_may_be_open_at_a_time(wrt: Runtime, tmp_path: Path) -> None:
    view = signed(wrt, tmp_path)
    lifecycle.amend(wrt, view.id, amended_file(tmp_path, amount=600000), "one", "alice")
    with pytest.raises(Conflict, match="already has amendment 1 open"):
        lifecycle.amend(
            wrt, view.id, amended_file(tmp_path, "b.yaml", amount=700000), "two", "alice"
        )
    assert len(show(wrt, view.id).amendments) == 1


def test_amending_needs_a_signed_contract_a_reason_a_change_and_the_right_person(
    wrt: Runtime, tmp_path: Path
) -> None:
    draft = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    with pytest.raises(Conflict, match="only while in a stage that tracks obligations"):
        lifecycle.amend(wrt, draft.id, amended_file(tmp_path, amount=1), "x", "alice")
    view = lifecycle.act(wrt, open_task(draft, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    with pytest.raises(InvalidInput, match="--reason"):
        lifecycle.amend(wrt, view.id, amended_file(tmp_path, amount=600000), " ", "alice")
    with pytest.raises(InvalidInput, match="same as the terms in force"):
        lifecycle.amend(wrt, view.id, amended_file(tmp_path), "nothing", "alice")
    with pytest.raises(Forbidden, match="may not amend"):
        lifecycle.amend(wrt, view.id, amended_file(tmp_path, amount=600000), "x", "anna")
    view = lifecycle.amend(wrt, view.id, amended_file(tmp_path, amount=600000), "x", "root")
    # The amender may not approve their own amendment.
    with pytest.raises(Forbidden):
        lifecycle.act(wrt, amendment_task(view, "legal"), "approve", "root")
    assert show(wrt, view.id).amendments[0].stage == "legal_review"


def test_a_high_risk_amendment_is_routed_by_its_own_terms(wrt: Runtime, tmp_path: Path) -> None:
    view = signed(wrt, tmp_path)
    changed = amended_file(tmp_path, title="Pumps [high]")
    view = lifecycle.amend(wrt, view.id, changed, "riskier", "alice")
    assert view.amendments[0].max_severity == "high"
    assert view.max_severity == "none"  # the terms in force are scored as before
    view = lifecycle.act(wrt, amendment_task(view, "legal"), "approve", "lena")
    assert view.amendments[0].stage == "risk_review"


def test_an_amendment_settling_every_obligation_completes_fulfilment(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = signed(wrt, tmp_path)
    done = [
        {**o, "status": "fulfilled", "fulfilled_on": "2027-01-02"}
        for o in view.terms["obligations"]
    ]
    view = lifecycle.amend(
        wrt, view.id, amended_file(tmp_path, obligations=done), "all paid", "alice"
    )
    view = lifecycle.act(wrt, amendment_task(view, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, amendment_task(view, "signer"), "approve", "sam")
    assert view.stage == "evaluation"
    assert [h.action for h in view.history][-2:] == ["approve", "complete"]
    assert audit.verify(wrt, view.id).verified


def test_terminate_cancels_open_tasks_and_ends_the_workflow(wrt: Runtime, tmp_path: Path) -> None:
    view = signed(wrt, tmp_path)
    view = lifecycle.amend(wrt, view.id, amended_file(tmp_path, amount=600000), "x", "alice")
    with pytest.raises(Forbidden, match="terminate"):
        lifecycle.terminate(wrt, view.id, "customer withdrew", "alice")
    with pytest.raises(InvalidInput, match="--reason"):
        lifecycle.terminate(wrt, view.id, "", "maria")
    view = lifecycle.terminate(wrt, view.id, "customer withdrew", "maria", on=dt.date(2027, 1, 4))
    assert (view.status, view.terminated_on) == ("terminated", dt.date(2027, 1, 4))
    assert not [t for t in view.tasks if t.status == "open"]
    assert view.amendments[0].status == "cancelled"
    assert list_tasks(wrt, "lena") == []  # it leaves every inbox
    assert (view.history[-1].action, view.history[-1].comment) == ("terminate", "customer withdrew")
    with pytest.raises(Conflict):
        lifecycle.fulfil_obligation(wrt, view.id, "OB-2", "alice")
    with pytest.raises(Conflict, match="terminated"):
        lifecycle.terminate(wrt, view.id, "again", "root")
    with pytest.raises(Conflict, match="terminated"):
        lifecycle.renew(wrt, view.id, "alice")
    assert audit.verify(wrt, view.id).verified


def test_renew_submits_a_successor_for_the_next_period(wrt: Runtime, tmp_path: Path) -> None:
    view = signed(wrt, tmp_path)
    view = lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice")
    new = lifecycle.renew(wrt, view.id, "alice")
    assert new.id != view.id and new.renews == view.id
    old_terms, new_terms = view.terms, new.terms
    assert new_terms["start_date"] == "2027-12-01" and new_terms["end_date"] == "2028-11-29"
    assert dt.date.fromisoformat(old_terms["end_date"]) + dt.timedelta(days=1) == dt.date(
        2027, 12, 1
    )
    assert {o.status for o in new.obligations} == {"open"}
    assert new.stage == "legal_review"
    old = show(wrt, view.id)
    assert old.renewed_by == new.id
    assert old.history[-1].action == "renew"
    with pytest.raises(Conflict, match="already renewed"):
        lifecycle.renew(wrt, view.id, "alice")
    assert audit.verify(wrt).verified


def test_renew_is_for_the_owner_or_an_admin_and_a_signed_contract(
    wrt: Runtime, tmp_path: Path
) -> None:
    draft = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    with pytest.raises(Conflict, match="signed"):
        lifecycle.renew(wrt, draft.id, "alice")
    view = lifecycle.act(wrt, open_task(draft, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    with pytest.raises(Forbidden, match="may not renew"):
        lifecycle.renew(wrt, view.id, "anna")
    given = contract_file(tmp_path, "next.yaml", id=None, amount=777000)
    new = lifecycle.renew(wrt, view.id, "root", given)
    assert (new.renews, new.amount) == (view.id, 777000)


def test_recurring_obligations_are_tracked_one_occurrence_at_a_time(
    wrt: Runtime, tmp_path: Path
) -> None:
    monthly = {
        "id": "OB-9",
        "party": "counterparty",
        "kind": "payment",
        "due": "2027-01-31",
        "amount": 1000,
        "repeat": {"every": "quarter", "until": "2027-12-31"},
    }
    view = signed(wrt, tmp_path, obligations=[monthly])
    assert [o.id for o in view.obligations] == ["OB-9#1", "OB-9#2", "OB-9#3", "OB-9#4"]
    view = lifecycle.fulfil_obligation(wrt, view.id, "OB-9#2", "alice")
    assert {o.id: o.status for o in view.obligations}["OB-9#2"] == "fulfilled"
    for oid in ("OB-9#1", "OB-9#3"):
        view = lifecycle.waive_obligation(wrt, view.id, oid, "alice", comment="n/a")
    assert view.stage == "fulfilment"
    view = lifecycle.fulfil_obligation(wrt, view.id, "OB-9#4", "alice")
    assert view.stage == "evaluation"


def test_amendment_tasks_do_not_count_as_the_contracts_own(wrt: Runtime, tmp_path: Path) -> None:
    view = signed(wrt, tmp_path)
    view = lifecycle.amend(wrt, view.id, amended_file(tmp_path, amount=600000), "x", "alice")
    with wrt.db.reads() as s:
        rows = s.execute(select(m.Task.stage, m.Task.amendment_id, m.Task.revision)).all()
    assert ("legal_review", None, 1) in rows  # the contract's own, approved
    assert any(a is not None and r == 2 for _, a, r in rows)


def test_the_amendment_workflow_is_not_for_new_contracts(wrt: Runtime, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="--workflow: amendment runs amendments"):
        lifecycle.submit(wrt, contract_file(tmp_path), "alice", workflow="amendment")
