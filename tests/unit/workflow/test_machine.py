"""The pure transition function: tasks per role, N/all approvals, reject and
request_changes at once, routes, pass-through stages, obligation tracking, four eyes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from engine.definitions.workflows import load_workflow_file, load_workflow_text
from engine.domain.workflow import WorkflowSpec
from engine.errors import Conflict, Forbidden, InvalidInput
from engine.settings import PROJECT_ROOT
from engine.workflow.machine import (
    Actor,
    AddApproval,
    CloseTask,
    Complete,
    ContractState,
    Decide,
    Env,
    MoveStage,
    OpenTask,
    Submit,
    TaskState,
    transition,
)

NOW = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)  # a Monday


def standard() -> WorkflowSpec:
    return load_workflow_file(PROJECT_ROOT / "config" / "workflows" / "standard.yaml")[0]


def env(amount_base: int = 500_000, severity: str = "none", **holders: int) -> Env:
    return Env(
        now=NOW,
        when={"amount_base": Decimal(amount_base), "risk.max_severity": severity},
        holders=holders,
    )


def person(name: str, *roles: str) -> Actor:
    return Actor(username=name, roles=frozenset(roles))


def drafted(open_obligations: int = 2) -> ContractState:
    return ContractState(
        stage="drafting", status="active", submitter="alice", open_obligations=open_obligations
    )


def with_keys(state: ContractState, first: int = 1) -> ContractState:
    """Give placeholder task keys real ids, as the service does when it stores them."""
    tasks = tuple(
        TaskState(key=first + i, stage=t.stage, role=t.role, required=t.required)
        for i, t in enumerate(state.tasks)
    )
    return ContractState(state.stage, state.status, state.submitter, tasks, state.open_obligations)


def test_submit_opens_one_task_per_applicable_entry() -> None:
    small = transition(standard(), drafted(), Submit(), env(500_000))
    assert small.state.stage == "legal_review"
    assert [e.role for e in small.effects if isinstance(e, OpenTask)] == ["legal"]
    big = transition(standard(), drafted(), Submit(), env(2_000_000))
    assert [e.role for e in big.effects if isinstance(e, OpenTask)] == ["legal", "finance"]


def test_the_legal_task_is_due_in_three_days_and_escalates_to_the_lead() -> None:
    tr = transition(standard(), drafted(), Submit(), env())
    task = next(e for e in tr.effects if isinstance(e, OpenTask))
    assert task.due_at == NOW + dt.timedelta(days=3)
    assert task.escalate_to == "legal_lead"


def test_the_stage_leaves_by_approve_only_when_every_task_is_approved() -> None:
    wf = standard()
    state = with_keys(transition(wf, drafted(), Submit(), env(2_000_000)).state)
    first = transition(wf, state, Decide(1, "approve", person("lena", "legal")), env(2_000_000))
    assert first.state.stage == "legal_review"
    assert CloseTask(1, "approved") in first.effects
    second = transition(
        wf, first.state, Decide(2, "approve", person("fei", "finance")), env(2_000_000)
    )
    assert second.state.stage == "signing"
    assert [e.role for e in second.effects if isinstance(e, OpenTask)] == ["signer"]


def test_a_high_risk_contract_is_routed_to_risk_review() -> None:
    wf = standard()
    state = with_keys(transition(wf, drafted(), Submit(), env(severity="high")).state)
    tr = transition(wf, state, Decide(1, "approve", person("lena", "legal")), env(severity="high"))
    assert tr.state.stage == "risk_review"
    move = tr.moves[-1]
    assert move.route == 'risk.max_severity >= "high"'


def test_a_medium_risk_contract_goes_straight_to_signing() -> None:
    wf = standard()
    state = with_keys(transition(wf, drafted(), Submit(), env(severity="medium")).state)
    tr = transition(
        wf, state, Decide(1, "approve", person("lena", "legal")), env(severity="medium")
    )
    assert tr.state.stage == "signing"


@pytest.mark.parametrize(
    ("verb", "status"), [("reject", "rejected"), ("request_changes", "changes_requested")]
)
def test_reject_and_request_changes_act_at_once_and_cancel_the_other_tasks(
    verb: str, status: str
) -> None:
    wf = standard()
    state = with_keys(transition(wf, drafted(), Submit(), env(2_000_000)).state)
    tr = transition(
        wf, state, Decide(2, verb, person("fei", "finance"), "too long"), env(2_000_000)
    )
    assert tr.state.stage == "drafting"
    assert CloseTask(2, status) in tr.effects
    assert CloseTask(1, "cancelled") in tr.effects
    assert tr.state.tasks == ()


def test_reject_needs_a_comment() -> None:
    wf = standard()
    state = with_keys(transition(wf, drafted(), Submit(), env()).state)
    with pytest.raises(InvalidInput, match="needs a comment"):
        transition(wf, state, Decide(1, "reject", person("lena", "legal"), "  "), env())


def test_an_action_the_stage_does_not_have_is_refused() -> None:
    wf = standard()
    state = ContractState(
        "risk_review", "active", "alice", (TaskState(7, "risk_review", "risk_officer"),)
    )
    with pytest.raises(InvalidInput, match="allows only approve, reject"):
        transition(
            wf, state, Decide(7, "request_changes", person("rita", "risk_officer"), "x"), env()
        )


def test_only_holders_of_the_role_act_and_the_submitter_never_approves() -> None:
    wf = standard()
    state = with_keys(transition(wf, drafted(), Submit(), env()).state)
    with pytest.raises(Forbidden, match="does not hold the role legal"):
        transition(wf, state, Decide(1, "approve", person("fei", "finance")), env())
    with pytest.raises(Forbidden, match="submitted this contract"):
        transition(
            wf, state, Decide(1, "approve", person("alice", "legal", "contract_admin")), env()
        )


@pytest.mark.parametrize(
    "path", sorted((PROJECT_ROOT / "config" / "workflows").glob("*.yaml")), ids=lambda p: p.stem
)
def test_the_owner_may_not_approve_in_an_approval_stage_of_any_shipped_workflow(path) -> None:  # type: ignore[no-untyped-def]
    wf = load_workflow_file(path)[0]
    checked = 0
    for stage_id in sorted(wf.approval_stages()):
        stage = wf.stage(stage_id)
        if not stage.tasks or "approve" not in stage.actions:
            continue
        checked += 1
        role = stage.tasks[0].role.value
        state = ContractState(
            stage_id, "active", "alice", (TaskState(5, stage_id, role),), owner="olga"
        )
        with pytest.raises(Forbidden, match="olga owns this contract and may not approve it"):
            transition(wf, state, Decide(5, "approve", person("olga", role)), env())
        # standing in for a colleague does not get round it either
        delegate = Actor(username="olga", roles=frozenset({role}), as_user="petra")
        with pytest.raises(Forbidden, match="owns this contract"):
            transition(wf, state, Decide(5, "approve", delegate), env())
        # someone else with the role may
        transition(wf, state, Decide(5, "approve", person("petra", role)), env())
    assert checked >= 2


def test_the_submitter_may_approve_the_evaluation_after_fulfilment() -> None:
    wf = standard()
    state = ContractState(
        "evaluation", "active", "alice", (TaskState(9, "evaluation", "contract_admin"),)
    )
    tr = transition(wf, state, Decide(9, "approve", person("alice", "contract_admin")), env())
    assert tr.state.stage == "closed" and tr.state.status == "closed"


def test_acting_on_a_task_that_is_not_open_is_a_conflict() -> None:
    wf = standard()
    state = with_keys(transition(wf, drafted(), Submit(), env()).state)
    with pytest.raises(Conflict, match="task 99 is not open"):
        transition(wf, state, Decide(99, "approve", person("lena", "legal")), env())


def test_an_assigned_task_is_only_for_its_assignee() -> None:
    wf = standard()
    state = ContractState(
        "legal_review", "active", "alice", (TaskState(1, "legal_review", "legal", assignee="lena"),)
    )
    with pytest.raises(Forbidden, match="assigned to lena"):
        transition(wf, state, Decide(1, "approve", person("lars", "legal")), env())
    delegate = Actor(username="lars", roles=frozenset({"legal"}), as_user="lena")
    tr = transition(wf, state, Decide(1, "approve", delegate), env())
    assert AddApproval(1, "lars", "lena") in tr.effects


TWO_SIGNERS = """workflow: two
version: 1
stages:
  - id: drafting
    actions: {submit: signing}
  - id: signing
    tasks:
      - {role: signer, approvals: 2}
      - {role: legal, approvals: all}
    actions: {approve: done, reject: drafting}
  - id: done
    final: true
"""


def test_approvals_n_needs_n_distinct_people_and_all_needs_every_holder() -> None:
    wf = load_workflow_text(TWO_SIGNERS, "two.yaml")
    tr = transition(wf, drafted(), Submit(), env(legal=3))
    assert [(e.role, e.required) for e in tr.effects if isinstance(e, OpenTask)] == [
        ("signer", 2),
        ("legal", 3),
    ]
    state = with_keys(tr.state)
    state = transition(wf, state, Decide(1, "approve", person("sam", "signer")), env()).state
    with pytest.raises(Conflict, match="already approved"):
        transition(wf, state, Decide(1, "approve", person("sam", "signer")), env())
    state = transition(wf, state, Decide(1, "approve", person("sue", "signer")), env()).state
    assert [t.role for t in state.tasks] == ["legal"]
    for who in ("l1", "l2"):
        state = transition(wf, state, Decide(2, "approve", person(who, "legal")), env()).state
        assert state.stage == "signing"
    state = transition(wf, state, Decide(2, "approve", person("l3", "legal")), env()).state
    assert state.stage == "done" and state.status == "closed"


def test_fulfilment_completes_by_itself_when_nothing_is_open() -> None:
    wf = standard()
    signing = ContractState(
        "signing", "active", "alice", (TaskState(5, "signing", "signer"),), open_obligations=0
    )
    tr = transition(wf, signing, Decide(5, "approve", person("sam", "signer")), env())
    assert tr.state.stage == "evaluation"
    assert [m.to_stage for m in tr.moves] == ["fulfilment", "evaluation"]
    waiting = ContractState("fulfilment", "active", "alice", open_obligations=1)
    with pytest.raises(Conflict, match="still open"):
        transition(wf, waiting, Complete(), env())
    done = transition(wf, ContractState("fulfilment", "active", "alice"), Complete(), env())
    assert done.state.stage == "evaluation"


def test_a_stage_whose_task_conditions_all_fail_approves_itself() -> None:
    wf = load_workflow_text(
        """workflow: skip
version: 1
stages:
  - id: drafting
    actions: {submit: finance_check}
  - id: finance_check
    tasks: [{role: finance, when: amount_base > 1000000}]
    actions: {approve: done}
  - id: done
    final: true
""",
        "skip.yaml",
    )
    tr = transition(wf, drafted(), Submit(), env(amount_base=10))
    assert tr.state.status == "closed"
    assert tr.moves == [
        MoveStage("drafting", "finance_check", "submit"),
        MoveStage("finance_check", "done", "approve"),
    ]


def test_a_closed_contract_accepts_nothing() -> None:
    with pytest.raises(Conflict, match="closed"):
        transition(standard(), ContractState("closed", "closed", "alice"), Submit(), env())


def test_submit_is_only_possible_from_the_first_stage() -> None:
    with pytest.raises(Conflict, match="only from drafting"):
        transition(standard(), ContractState("signing", "active", "alice"), Submit(), env())
