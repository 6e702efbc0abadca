"""The lifecycle through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, text

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.services import audit, lifecycle
from engine.services.runtime import Runtime
from engine.services.sla import escalate_overdue_tasks
from engine.services.users import add_user
from engine.services.views import list_tasks, show
from engine.store import models as m
from tests.integration.workflow.support import FixedEvaluator, contract_file
from tests.support import FrozenClock


def open_task(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def test_a_contract_goes_from_draft_to_closed(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice")
    assert (view.id, view.stage, view.status) == ("SC-2026-0042", "legal_review", "active")
    assert sorted(t.role for t in view.tasks) == ["finance", "legal"]  # 2.4M > 1M
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena", "terms ok")
    assert view.stage == "legal_review"
    view = lifecycle.act(wrt, open_task(view, "finance"), "approve", "fei")
    assert view.stage == "signing"
    view = lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    assert view.stage == "fulfilment"
    for oid in ("OB-1", "OB-2"):
        view = lifecycle.fulfil_obligation(wrt, view.id, oid, "alice", on=dt.date(2027, 1, 3))
        assert view.stage == "fulfilment"
    view = lifecycle.waive_obligation(wrt, view.id, "OB-3", "alice", comment="paid in kind")
    assert view.stage == "evaluation"
    assert {o.id: o.status for o in view.obligations} == {
        "OB-1": "fulfilled",
        "OB-2": "fulfilled",
        "OB-3": "waived",
    }
    view = lifecycle.act(wrt, open_task(view, "contract_admin"), "approve", "alice")
    assert (view.stage, view.status) == ("closed", "closed")
    assert [h.action for h in view.history] == [
        "submit",
        "approve",
        "approve",
        "approve",
        "fulfil_obligation",
        "fulfil_obligation",
        "waive_obligation",
        "approve",
    ]
    assert view.history[1].actor == "lena" and view.history[1].comment == "terms ok"
    assert (view.history[2].from_stage, view.history[2].to_stage) == ("legal_review", "signing")
    assert audit.verify(wrt, view.id).verified


def test_a_contract_without_an_id_gets_one_by_direction(wrt: Runtime, tmp_path: Path) -> None:
    sale = lifecycle.submit(wrt, contract_file(tmp_path, "a.yaml", id=None), "alice")
    assert sale.id == "SC-2027-0001"
    again = lifecycle.submit(wrt, contract_file(tmp_path, "b.yaml", id=None), "alice")
    assert again.id == "SC-2027-0002"
    buy = lifecycle.submit(
        wrt, contract_file(tmp_path, "c.yaml", id=None, direction="buy"), "alice"
    )
    assert buy.id == "PO-2027-0001"


def test_high_risk_is_routed_to_the_risk_officer(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(
        wrt, contract_file(tmp_path, title="Pumps [high]", amount=500000), "alice"
    )
    assert view.max_severity == "high"
    assert [f.rule for f in view.flags] == ["test.high"]
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena")
    assert view.stage == "risk_review"
    assert view.history[-1].details["moves"][0]["route"] == 'risk.max_severity >= "high"'
    view = lifecycle.act(wrt, open_task(view, "risk_officer"), "approve", "rita")
    assert view.stage == "signing"


def test_medium_risk_skips_risk_review(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(
        wrt, contract_file(tmp_path, title="Pumps [medium]", amount=500000), "alice"
    )
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena")
    assert view.stage == "signing"


def test_the_submitter_may_not_approve(wrt: Runtime, tmp_path: Path) -> None:
    add_user(wrt, "dual", ["contract_admin", "legal"])
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "dual")
    with pytest.raises(Forbidden, match="dual submitted this contract"):
        lifecycle.act(wrt, open_task(view, "legal"), "approve", "dual")
    assert len(show(wrt, view.id).history) == 1


def test_acting_twice_is_a_conflict_and_changes_nothing(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    task = open_task(view, "legal")
    lifecycle.act(wrt, task, "approve", "lena")
    before = show(wrt, view.id)
    with pytest.raises(Conflict, match=f"task {task} is approved"):
        lifecycle.act(wrt, task, "approve", "lars")
    assert show(wrt, view.id).history == before.history


def test_wrong_role_unknown_action_and_missing_comment_are_refused(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    task = open_task(view, "legal")
    with pytest.raises(Forbidden, match="does not hold the role legal"):
        lifecycle.act(wrt, task, "approve", "fei")
    with pytest.raises(InvalidInput, match="use one of approve, reject, request_changes"):
        lifecycle.act(wrt, task, "accept", "lena")
    with pytest.raises(InvalidInput, match="needs a comment"):
        lifecycle.act(wrt, task, "reject", "lena")
    with pytest.raises(NotFound):
        lifecycle.act(wrt, 9999, "approve", "lena")
    assert len(show(wrt, view.id).history) == 1


def test_changes_requested_then_a_revision_is_reviewed_again(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice")
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena")
    finance = open_task(view, "finance")
    view = lifecycle.act(wrt, finance, "request_changes", "fei", "net days 60 is too long")
    assert view.stage == "drafting"
    assert not [t for t in view.tasks if t.status == "open"]
    with pytest.raises(Conflict, match="changes requested, not open"):
        lifecycle.act(wrt, finance, "approve", "fei")

    terms = {"prepayment_percent": 30, "net_days": 45, "late_penalty_percent_per_day": 0.05}
    revised = contract_file(tmp_path, "rev2.yaml", payment_terms=terms)
    view = lifecycle.revise(wrt, "SC-2026-0042", revised, "alice")
    assert (view.stage, view.revision) == ("legal_review", 2)
    # The legal approval of revision 1 does not count: legal reviews revision 2 again.
    open_roles = sorted(t.role for t in view.tasks if t.status == "open")
    assert open_roles == ["finance", "legal"]
    assert all(t.revision == 2 for t in view.tasks if t.status == "open")
    changed = {c.field: (c.before, c.after) for c in view.revisions[1].changes}
    assert changed["payment_terms.net_days"] == (60, 45)
    assert changed["payment_terms.installments[0].percent"] == ("30", None)  # dropped
    assert "amount" not in changed
    assert view.history[-1].action == "revise"
    assert view.history[-1].details["changed"] == list(changed)


def test_submitting_the_same_id_again_is_a_revision(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    with pytest.raises(Conflict, match="is in legal_review"):
        lifecycle.submit(wrt, contract_file(tmp_path, "b.yaml", amount=400000), "alice")
    lifecycle.act(wrt, open_task(view, "legal"), "reject", "lena", "wrong counterparty")
    view = lifecycle.submit(wrt, contract_file(tmp_path, "c.yaml", amount=400000), "alice")
    assert (view.revision, view.stage) == (2, "legal_review")
    assert [c.field for c in view.revisions[1].changes] == ["amount"]


def test_delegation_lets_a_colleague_act_and_history_shows_both(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    task = open_task(view, "legal")
    view = lifecycle.reassign(wrt, task, "lena", "root", comment="lena knows this client")
    assert next(t for t in view.tasks if t.id == task).assignee == "lena"
    with pytest.raises(Forbidden, match="assigned to lena"):
        lifecycle.act(wrt, task, "approve", "lars")
    assert [t.id for t in list_tasks(wrt, "lars")] == []

    today = wrt.today()
    lifecycle.delegate(wrt, "lena", "lars", today, today + dt.timedelta(days=7))
    assert [t.id for t in list_tasks(wrt, "lars")] == [task]
    view = lifecycle.act(wrt, task, "approve", "lars", "for lena")
    entry = view.history[-1]
    assert (entry.actor, entry.on_behalf_of) == ("lars", "lena")
    assert view.history[-2].action == "reassign"
    assert view.history[-2].details["to"] == "lena"


def test_delegation_rules(wrt: Runtime) -> None:
    today = wrt.today()
    with pytest.raises(InvalidInput, match="holds none of lena's roles"):
        lifecycle.delegate(wrt, "lena", "fei", today, today)
    with pytest.raises(InvalidInput, match="before"):
        lifecycle.delegate(wrt, "lena", "lars", today, today - dt.timedelta(days=1))
    with pytest.raises(Forbidden):
        lifecycle.delegate(wrt, "alice", "lars", today, today, from_user="lena")
    made = lifecycle.delegate(wrt, "root", "lars", today, today, from_user="lena")
    assert (made.from_user, made.to_user) == ("lena", "lars")


def test_an_expired_delegation_gives_nothing(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    task = open_task(view, "legal")
    lifecycle.reassign(wrt, task, "lena", "maria")
    past = wrt.today() - dt.timedelta(days=10)
    lifecycle.delegate(wrt, "lena", "lars", past, past + dt.timedelta(days=2))
    with pytest.raises(Forbidden):
        lifecycle.act(wrt, task, "approve", "lars")


def test_only_admins_and_managers_reassign_and_only_to_role_holders(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    task = open_task(view, "legal")
    with pytest.raises(Forbidden):
        lifecycle.reassign(wrt, task, "lars", "alice")
    with pytest.raises(InvalidInput, match="does not hold the role legal"):
        lifecycle.reassign(wrt, task, "fei", "root")


def test_tasks_list_the_users_work_with_overdue_first(
    wrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    first = lifecycle.submit(
        wrt, contract_file(tmp_path, "a.yaml", id="SC-1", amount=500000), "alice"
    )
    clock.now += dt.timedelta(days=2)
    lifecycle.submit(wrt, contract_file(tmp_path, "b.yaml", id="SC-2", amount=500000), "alice")
    clock.now += dt.timedelta(days=1, hours=12)
    mine = list_tasks(wrt, "lena")
    assert [(t.contract, t.overdue) for t in mine] == [("SC-1", True), ("SC-2", False)]
    assert list_tasks(wrt, "fei") == []
    assert {t.contract for t in list_tasks(wrt, None, all_tasks=True)} == {"SC-1", "SC-2"}
    lifecycle.act(wrt, open_task(first, "legal"), "approve", "lena")
    assert [t.contract for t in list_tasks(wrt, "lena")] == ["SC-2"]


def test_an_overdue_task_escalates_once_with_an_email_in_the_outbox(
    wrt: Runtime, tmp_path: Path, clock: FrozenClock
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    task = open_task(view, "legal")
    assert escalate_overdue_tasks(wrt) == 0
    clock.now += dt.timedelta(days=3, minutes=1)
    assert escalate_overdue_tasks(wrt) == 1
    assert escalate_overdue_tasks(wrt) == 0
    with wrt.db.sessions() as session:
        rows = list(
            session.scalars(
                select(m.OutboxMessage).where(m.OutboxMessage.kind == "task_escalation")
            )
        )
    assert len(rows) == 1
    row = rows[0]
    assert (row.kind, row.level, row.key) == ("task_escalation", "sla", f"task:{task}:escalation")
    assert row.recipients == ["leo@example.com"]
    assert "SC-2026-0042" in row.subject
    history = show(wrt, view.id).history
    assert history[-1].action == "escalate"
    assert history[-1].details["escalate_to"] == "legal_lead"
    assert audit.verify(wrt).verified


def tamper(rt: Runtime, sql: str) -> None:
    """Change audit rows behind the product's back (the triggers refuse it otherwise)."""
    with rt.db.engine.begin() as conn:
        if rt.db.dialect == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
            conn.execute(text(sql))
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
            conn.execute(text(sql))
            conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER USER")


def _three_events(wrt: Runtime, tmp_path: Path) -> str:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena", "ok")
    lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    assert audit.verify(wrt).verified
    return view.id


def test_the_database_refuses_to_change_audit_events(wrt: Runtime, tmp_path: Path) -> None:
    _three_events(wrt, tmp_path)
    with pytest.raises(Exception, match="append-only"), wrt.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET comment = 'x'"))


def test_audit_verify_detects_a_changed_event(wrt: Runtime, tmp_path: Path) -> None:
    code = _three_events(wrt, tmp_path)
    tamper(wrt, "UPDATE audit_events SET comment = 'looks fine' WHERE seq = 2")
    report = audit.verify(wrt, code)
    assert not report.verified
    assert any("event 2" in p and "changed" in p for p in report.problems)


def test_audit_verify_detects_a_removed_event(wrt: Runtime, tmp_path: Path) -> None:
    code = _three_events(wrt, tmp_path)
    tamper(wrt, "DELETE FROM audit_events WHERE seq = 2")
    report = audit.verify(wrt, code)
    assert not report.verified
    assert any("removed" in p for p in report.problems)


def test_audit_verify_detects_removed_last_events(wrt: Runtime, tmp_path: Path) -> None:
    code = _three_events(wrt, tmp_path)
    tamper(wrt, "DELETE FROM audit_events WHERE seq = 3")
    report = audit.verify(wrt, code)
    assert not report.verified
    assert report.problems[0] == (
        f"{code}: the trail ends at event 2 but the contract recorded 3 - events were removed"
    )
    # The removed event was sam's approval: the approval row it recorded is now unaccounted.
    assert report.problems[1:] == [
        f"{code}: task 2: an approval by sam that no event records "
        "(approver changed or approval added)"
    ]


def test_audit_verify_detects_reordered_events(wrt: Runtime, tmp_path: Path) -> None:
    code = _three_events(wrt, tmp_path)
    tamper(wrt, "UPDATE audit_events SET seq = seq + 10 WHERE seq IN (2, 3)")
    tamper(wrt, "UPDATE audit_events SET seq = 3 WHERE seq = 12")
    tamper(wrt, "UPDATE audit_events SET seq = 2 WHERE seq = 13")
    report = audit.verify(wrt, code)
    assert not report.verified


def test_unknown_contracts_and_obligations_are_named(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    view = lifecycle.act(wrt, open_task(view, "legal"), "approve", "lena")
    view = lifecycle.act(wrt, open_task(view, "signer"), "approve", "sam")
    with pytest.raises(NotFound, match=r"no obligation 'OB-9'.*OB-1, OB-2, OB-3"):
        lifecycle.fulfil_obligation(wrt, view.id, "OB-9", "alice")
    with pytest.raises(NotFound, match="SC-404"):
        show(wrt, "SC-404")
    with pytest.raises(InvalidInput, match="comment"):
        lifecycle.waive_obligation(wrt, view.id, "OB-1", "alice")
    lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice")
    with pytest.raises(Conflict, match="already fulfilled"):
        lifecycle.fulfil_obligation(wrt, view.id, "OB-1", "alice")


def test_only_contract_admins_submit(wrt: Runtime, tmp_path: Path) -> None:
    with pytest.raises(Forbidden, match="may not submit"):
        lifecycle.submit(wrt, contract_file(tmp_path), "lena")


def test_the_risk_evaluator_is_asked_on_submit_and_revise(wrt: Runtime, tmp_path: Path) -> None:
    evaluator = FixedEvaluator()
    wrt.set_evaluator(evaluator)
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    lifecycle.act(wrt, open_task(view, "legal"), "request_changes", "lena", "fix")
    lifecycle.revise(wrt, view.id, contract_file(tmp_path, "r.yaml", amount=600000), "alice")
    assert evaluator.calls == 2


BOARD = """workflow: board
version: 1
stages:
  - id: drafting
    actions: {submit: signing}
  - id: signing
    tasks: [{role: signer, approvals: all}]
    actions: {approve: done, reject: drafting}
  - id: done
    final: true
"""


def test_approvals_all_needs_every_signer_and_one_person_gives_one_approval(
    wrt: Runtime, tmp_path: Path
) -> None:
    from engine.services.workflows import load_files

    path = tmp_path / "board.yaml"
    path.write_text(BOARD)
    load_files(wrt, [path])
    view = lifecycle.submit(wrt, contract_file(tmp_path), "alice", workflow="board")
    task = open_task(view, "signer")
    assert next(t for t in view.tasks if t.id == task).approvals_required == 2  # sam, sue
    today = wrt.today()
    lifecycle.delegate(wrt, "sue", "sam", today, today)
    view = lifecycle.act(wrt, task, "approve", "sam")
    assert view.stage == "signing"
    # sam stands in for sue, but one person may not give two of the approvals.
    with pytest.raises(Conflict, match="sam has already approved"):
        lifecycle.act(wrt, task, "approve", "sam", on_behalf_of="sue")
    view = lifecycle.act(wrt, task, "approve", "sue")
    assert (view.stage, view.status) == ("done", "closed")
    assert next(t for t in view.tasks if t.id == task).approved_by == ["sam", "sue"]
