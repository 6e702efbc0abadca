"""Random sequences of lifecycle actions against the service layer, invariants after each.

Submits, approvals, rejections, change requests, revisions, delegations, reassignments,
fulfilments, amendments, renewals and terminations are drawn by hypothesis; after every
step: each contract is in exactly one stage of its workflow, open tasks belong only to its
current stage and revision (or to its one open amendment's stage), a contract past legal
review has every required approval on its current revision (an amendment in force brings
its own legal and signer approvals), a terminated contract has no open task, audit events
equal accepted actions, and the hash chain verifies.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from engine.definitions.contracts import load_contract_file
from engine.domain.contract import Contract
from engine.errors import ContractflowError
from engine.services import audit, lifecycle
from engine.services.runtime import Runtime
from engine.services.views import show
from tests.integration.workflow.support import PEOPLE
from tests.support import EXAMPLES

BASE = load_contract_file(EXAMPLES / "SC-2026-0042.yaml")
STAGES = {
    "drafting",
    "legal_review",
    "risk_review",
    "signing",
    "fulfilment",
    "evaluation",
    "closed",
}
PAST_LEGAL = {"risk_review", "signing", "fulfilment", "evaluation", "closed"}
EVERYONE = sorted(PEOPLE)


class Lifecycle(RuleBasedStateMachine):
    contracts = Bundle("contracts")

    def __init__(self, rt: Runtime, run: int) -> None:
        super().__init__()
        self.rt = rt
        self.run = run
        self.serial = 0
        self.accepted: dict[str, int] = {}

    def _contract(self, amount: int, severity: str) -> Contract:
        self.serial += 1
        title = f"Pumps [{severity}]" if severity != "none" else "Pumps"
        return BASE.model_copy(
            update={
                "id": f"HX-{self.run}-{self.serial}",
                "title": title,
                "amount": Decimal(amount),
            }
        )

    def _try(self, code: str, fn: object, *args: object, **kwargs: object) -> bool:
        try:
            fn(*args, **kwargs)  # type: ignore[operator]
        except ContractflowError:
            return False
        self.accepted[code] = self.accepted.get(code, 0) + 1
        return True

    @initialize(target=contracts)
    def first(self) -> str:
        contract = self._contract(500_000, "none")
        assert contract.id is not None
        self._try(contract.id, lifecycle.submit_contract, self.rt, contract, "alice")
        return contract.id

    @rule(
        target=contracts,
        amount=st.sampled_from([200_000, 2_000_000]),
        severity=st.sampled_from(["none", "medium", "high"]),
        who=st.sampled_from(["alice", "anna"]),
    )
    def submit(self, amount: int, severity: str, who: str) -> str:
        contract = self._contract(amount, severity)
        assert contract.id is not None
        assert self._try(contract.id, lifecycle.submit_contract, self.rt, contract, who)
        return contract.id

    @rule(
        code=contracts,
        verb=st.sampled_from(["approve", "approve", "approve", "reject", "request_changes"]),
        who=st.sampled_from(EVERYONE),
        pick=st.integers(0, 3),
    )
    def act(self, code: str, verb: str, who: str, pick: int) -> None:
        open_tasks = [t for t in show(self.rt, code).tasks if t.status == "open"]
        if not open_tasks:
            return
        task = open_tasks[pick % len(open_tasks)]
        self._try(code, lifecycle.act, self.rt, task.id, verb, who, comment="because")

    @rule(code=contracts, who=st.sampled_from(EVERYONE), pick=st.integers(0, 3))
    def act_as_a_role_holder(self, code: str, who: str, pick: int) -> None:
        """Mostly-successful approvals, so contracts get far along."""
        open_tasks = [t for t in show(self.rt, code).tasks if t.status == "open"]
        if not open_tasks:
            return
        task = open_tasks[pick % len(open_tasks)]
        holders = [p for p, roles in PEOPLE.items() if task.role in roles]
        actor = holders[pick % len(holders)]
        self._try(code, lifecycle.act, self.rt, task.id, "approve", actor)

    @rule(code=contracts)
    def push_through(self, code: str) -> None:
        """Approve every open task as a fitting reviewer: gets contracts to the late stages."""
        for task in [t for t in show(self.rt, code).tasks if t.status == "open"]:
            for actor in [p for p, roles in PEOPLE.items() if task.role in roles]:
                if self._try(code, lifecycle.act, self.rt, task.id, "approve", actor):
                    break

    def _towards_fulfilment(self, code: str) -> lifecycle.ContractView:
        """Push a contract on (as `push_through`, every step audited) so that the steps
        after signing are drawn often enough to matter."""
        for _ in range(4):
            view = show(self.rt, code)
            if view.stage not in {"legal_review", "risk_review", "signing"}:
                return view
            self.push_through(code)
        return show(self.rt, code)

    @rule(code=contracts, amount=st.sampled_from([300_000, 3_000_000]))
    def revise(self, code: str, amount: int) -> None:
        view = show(self.rt, code)
        revised = BASE.model_copy(
            update={"id": code, "title": view.title, "amount": Decimal(amount)}
        )
        self._try(code, lifecycle.submit_contract, self.rt, revised, "alice")

    @rule(code=contracts, pick=st.integers(0, 2), waive=st.booleans())
    def settle(self, code: str, pick: int, waive: bool) -> None:
        oid = f"OB-{pick + 1}"
        if waive:
            self._try(code, lifecycle.waive_obligation, self.rt, code, oid, "alice", "n/a")
        else:
            self._try(code, lifecycle.fulfil_obligation, self.rt, code, oid, "alice")

    @rule(
        code=contracts, to=st.sampled_from(["lena", "lars", "sam", "sue"]), pick=st.integers(0, 3)
    )
    def reassign(self, code: str, to: str, pick: int) -> None:
        open_tasks = [t for t in show(self.rt, code).tasks if t.status == "open"]
        if open_tasks:
            task = open_tasks[pick % len(open_tasks)]
            self._try(code, lifecycle.reassign, self.rt, task.id, to, "root")

    @rule(
        code=contracts,
        amount=st.sampled_from([400_000, 4_000_000]),
        who=st.sampled_from(["alice", "anna", "root"]),
    )
    def amend(self, code: str, amount: int, who: str) -> None:
        view = self._towards_fulfilment(code)
        changed = BASE.model_copy(
            update={"id": code, "title": view.title, "amount": Decimal(amount)}
        )
        self._try(code, lifecycle.amend_contract, self.rt, code, changed, "change", who, "hx")

    @rule(code=contracts, who=st.sampled_from(["alice", "anna"]))
    def renew(self, code: str, who: str) -> None:
        self._towards_fulfilment(code)
        try:
            new = lifecycle.renew(self.rt, code, who)
        except ContractflowError:
            return
        self.accepted[code] = self.accepted.get(code, 0) + 1  # the old one's `renew` event
        self.accepted[new.id] = 1  # the successor's `submit`
        assert new.renews == code and show(self.rt, code).renewed_by == new.id

    @rule(code=contracts, who=st.sampled_from(["maria", "alice"]), chance=st.integers(0, 3))
    def terminate(self, code: str, who: str, chance: int) -> None:
        if chance == 0:  # rarely: a terminated contract has nothing more to show
            self._try(code, lifecycle.terminate, self.rt, code, "stop", who)

    @rule(pair=st.sampled_from([("lena", "lars"), ("lars", "lena"), ("sam", "sue")]))
    def delegate(self, pair: tuple[str, str]) -> None:
        today = self.rt.today()
        lifecycle.delegate(self.rt, pair[0], pair[1], today, today + dt.timedelta(days=3))

    @invariant()
    def every_contract_is_consistent(self) -> None:
        for code, accepted in self.accepted.items():
            view = show(self.rt, code)
            assert view.stage in STAGES
            if view.status != "terminated":
                assert (view.status == "closed") == (view.stage == "closed")
            open_amendments = [a for a in view.amendments if a.status == "open"]
            assert len(open_amendments) <= 1
            for task in view.tasks:
                if task.status != "open":
                    continue
                assert view.status == "active"
                if task.amendment is None:
                    assert (task.stage, task.revision) == (view.stage, view.revision)
                else:
                    [amendment] = open_amendments
                    assert (task.amendment, task.stage) == (amendment.number, amendment.stage)
                    assert view.stage == "fulfilment"
            if view.stage in PAST_LEGAL:
                approved = {
                    t.role
                    for t in view.tasks
                    if t.status == "approved" and t.revision == view.revision
                }
                if view.revision > 1 and view.stage in {"fulfilment", "evaluation", "closed"}:
                    # After signing, a new revision comes only from an amendment in force.
                    assert any(a.revision == view.revision for a in view.amendments)
                assert "legal" in approved
                if view.amount_base > 1_000_000:
                    assert "finance" in approved
                if view.stage in {"fulfilment", "evaluation", "closed"}:
                    assert "signer" in approved
            # An amendment in force that settles the last obligation adds a `complete`.
            events = [h for h in view.history if h.action != "complete"]
            assert len(events) == accepted, (code, [h.action for h in view.history])
        assert audit.verify(self.rt).verified


@pytest.mark.slow
def test_random_lifecycles_keep_the_invariants(wrt: Runtime) -> None:
    runs = iter(range(1, 10_000))
    run_state_machine_as_test(
        lambda: Lifecycle(wrt, next(runs)),
        settings=settings(
            max_examples=8,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
