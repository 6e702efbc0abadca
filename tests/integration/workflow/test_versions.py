"""Workflow versions: a stored version never changes; new versions apply to new contracts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import Conflict, InvalidDefinition, NotFound
from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.workflows import list_workflows, load_files, load_shipped_workflows
from engine.settings import PROJECT_ROOT
from tests.integration.workflow.support import contract_file

STANDARD = (PROJECT_ROOT / "config" / "workflows" / "standard.yaml").read_text()


def test_loading_the_shipped_workflows_twice_changes_nothing(wrt: Runtime) -> None:
    again = load_shipped_workflows(wrt)["workflows"]
    assert {w["status"] for w in again} == {"unchanged"}
    assert {(w["workflow"], w["version"]) for w in again} >= {("standard", 1), ("purchase", 1)}


def test_a_changed_definition_under_a_stored_version_is_refused(
    wrt: Runtime, tmp_path: Path
) -> None:
    changed = tmp_path / "standard.yaml"
    changed.write_text(STANDARD.replace("due_in: 3d", "due_in: 5d"))
    with pytest.raises(Conflict, match="standard version 1 is already loaded"):
        load_files(wrt, [changed])
    # Only comments or layout differ: the same definition, accepted as unchanged.
    same = tmp_path / "same.yaml"
    same.write_text("# reviewed 2027-01\n" + STANDARD)
    assert load_files(wrt, [same])[0]["status"] == "unchanged"


def test_a_new_version_applies_to_new_contracts_only(wrt: Runtime, tmp_path: Path) -> None:
    old = lifecycle.submit(
        wrt, contract_file(tmp_path, "a.yaml", id="SC-OLD", amount=500000), "alice"
    )
    assert old.workflow_version == 1
    v2 = tmp_path / "standard_v2.yaml"
    v2.write_text(
        STANDARD.replace("version: 1", "version: 2").replace(
            "    tasks: [{role: signer}]", "    tasks: [{role: signer, approvals: 2}]"
        )
    )
    assert load_files(wrt, [v2]) == [{"workflow": "standard", "version": 2, "status": "loaded"}]
    new = lifecycle.submit(
        wrt, contract_file(tmp_path, "b.yaml", id="SC-NEW", amount=500000), "alice"
    )
    assert new.workflow_version == 2

    def to_signing(view: lifecycle.ContractView) -> lifecycle.ContractView:
        task = next(t.id for t in view.tasks if t.status == "open")
        view = lifecycle.act(wrt, task, "approve", "lena")
        task = next(t.id for t in view.tasks if t.status == "open")
        return lifecycle.act(wrt, task, "approve", "sam")

    assert to_signing(old).stage == "fulfilment"  # version 1: one signer
    assert to_signing(new).stage == "signing"  # version 2: two signers
    listed = {(w.workflow, w.version): w for w in list_workflows(wrt)}
    assert listed[("standard", 1)].contracts == 1
    assert listed[("standard", 2)].contracts == 1
    assert listed[("standard", 2)].latest and not listed[("standard", 1)].latest
    assert listed[("purchase", 1)].contracts == 0


def test_a_contract_can_start_on_another_workflow(wrt: Runtime, tmp_path: Path) -> None:
    view = lifecycle.submit(
        wrt, contract_file(tmp_path, direction="buy", amount=500000), "alice", workflow="purchase"
    )
    assert (view.workflow, view.stage) == ("purchase", "procurement_review")
    with pytest.raises(NotFound, match="no workflow named 'nope'"):
        lifecycle.submit(wrt, contract_file(tmp_path, "b.yaml", id="X-1"), "alice", workflow="nope")


def test_loading_is_all_or_nothing(wrt: Runtime, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(STANDARD.replace("workflow: standard", "workflow: other"))
    bad = PROJECT_ROOT / "tests" / "data" / "workflows_bad" / "dead_end.yaml"
    with pytest.raises(InvalidDefinition):
        load_files(wrt, [good, bad])
    assert "other" not in {w.workflow for w in list_workflows(wrt)}


def _approve_open(
    wrt: Runtime, view: lifecycle.ContractView, who: dict[str, str]
) -> lifecycle.ContractView:
    for task in [t for t in view.tasks if t.status == "open"]:
        view = lifecycle.act(wrt, task.id, "approve", who[task.role])
    return view


REVIEWERS = {
    "procurement": "paul",
    "legal": "lena",
    "finance": "fei",
    "risk_officer": "rita",
    "signer": "sam",
    "contract_admin": "alice",
}


def test_a_purchase_goes_through_procurement_first(wrt: Runtime, tmp_path: Path) -> None:
    draft = contract_file(tmp_path, direction="buy", amount=800000, title="Valves [high]")
    view = lifecycle.submit(wrt, draft, "anna", workflow="purchase")
    assert [t.role for t in view.tasks] == ["procurement"]
    view = _approve_open(wrt, view, REVIEWERS)
    assert view.stage == "legal_review"
    assert sorted(t.role for t in view.tasks if t.status == "open") == ["finance", "legal"]
    view = _approve_open(wrt, view, REVIEWERS)
    assert view.stage == "risk_review"  # a high flag
    view = _approve_open(wrt, view, REVIEWERS)
    assert view.stage == "signing"
    assert [t.approvals_required for t in view.tasks if t.status == "open"] == [1]


def test_fast_track_sends_larger_contracts_to_the_risk_officer(
    wrt: Runtime, tmp_path: Path
) -> None:
    small = lifecycle.submit(
        wrt,
        contract_file(tmp_path, "a.yaml", id="FT-1", amount=100000),
        "alice",
        workflow="fast_track",
    )
    assert _approve_open(wrt, small, REVIEWERS).stage == "signing"
    large = lifecycle.submit(
        wrt,
        contract_file(tmp_path, "b.yaml", id="FT-2", amount=900000),
        "alice",
        workflow="fast_track",
    )
    assert _approve_open(wrt, large, REVIEWERS).stage == "risk_review"
