"""What the API tells people about contracts they may not see (issue 18.10), and four
eyes over the owner as well as the submitter (18.11)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.uploads import read_data
from engine.services.users import add_user
from engine.services.views import show
from engine.services.workflows import shipped_files
from engine.settings import PROJECT_ROOT
from tests.integration.web.support import bearer
from tests.support import EXAMPLES


def _terms(code: str, **over: Any) -> dict[str, Any]:
    data = json.loads((EXAMPLES / "SC-2026-0060.json").read_text())
    return {**data, "id": code, **over}


def test_bulk_approve_answers_for_contracts_the_user_cannot_see_as_a_single_act_does(
    client: TestClient, web_rt: Runtime
) -> None:
    lifecycle.submit(web_rt, EXAMPLES / "SC-2026-0042.yaml", "alice")  # high risk, in review
    hidden = [t.id for t in show(web_rt, "SC-2026-0042").tasks if t.status == "open"]
    sam = bearer(web_rt, "sam")  # a signer: no task on it yet, so it is invisible to him
    assert client.get("/api/contracts/SC-2026-0042", headers=sam).status_code == 404
    outcome = client.post(
        "/api/tasks/bulk-approve", json={"task_ids": [*hidden, 999_999]}, headers=sam
    ).json()
    assert outcome["approved"] == []
    refusals = {r["task"]: r["error"] for r in outcome["refused"]}
    for task in hidden:
        single = client.post(f"/api/tasks/{task}/act", json={"action": "approve"}, headers=sam)
        assert single.status_code == 403
        assert refusals[task] == single.json()["error"] == f"sam may not act on task {task}"
    single = client.post("/api/tasks/999999/act", json={"action": "approve"}, headers=sam)
    assert refusals[999_999] == single.json()["error"] == "task 999999 does not exist"
    said = " ".join(refusals.values())
    for secret in ("risk", "high", "legal", "finance", "role"):
        assert secret not in said


def test_submitting_with_an_existing_id_the_user_cannot_see_answers_404_like_a_read(
    client: TestClient, web_rt: Runtime
) -> None:
    lifecycle.submit_contract(web_rt, read_data(web_rt, _terms("SC-HIDDEN-1")), "alice")
    adam = bearer(web_rt, "adam")  # another contract_admin: may submit, may not see it
    read = client.get("/api/contracts/SC-HIDDEN-1", headers=adam)
    submit = client.post("/api/contracts", json=_terms("SC-HIDDEN-1"), headers=adam)
    never = client.get("/api/contracts/SC-NEVER-1", headers=adam)
    assert read.status_code == submit.status_code == never.status_code == 404
    assert submit.json()["error"] == read.json()["error"] == "contract 'SC-HIDDEN-1' does not exist"
    assert show(web_rt, "SC-HIDDEN-1").revision == 1  # nothing changed


def test_api_workflows_is_for_admins_only_and_shows_no_server_paths(
    client: TestClient, web_rt: Runtime
) -> None:
    for name in ("lena", "alice", "maria", "rita"):
        refused = client.get("/api/workflows", headers=bearer(web_rt, name))
        assert refused.status_code == 403, name
    listed = client.get("/api/workflows", headers=bearer(web_rt, "root"))
    assert listed.status_code == 200
    sources = {w["source"] for w in listed.json()}
    assert sources == {p.name for p in shipped_files(web_rt)}
    assert str(PROJECT_ROOT) not in listed.text and "/config/" not in listed.text


@pytest.mark.parametrize(
    "workflow",
    # `amendment` runs only through `contractflow amend` (a signed contract), not a submit.
    sorted(
        p.stem
        for p in (PROJECT_ROOT / "config" / "workflows").glob("*.yaml")
        if p.stem != "amendment"
    ),
)
def test_the_owner_may_not_approve_their_contracts_review_in_any_shipped_workflow(
    client: TestClient, web_rt: Runtime, workflow: str
) -> None:
    roles = ["legal", "finance", "procurement", "risk_officer", "signer", "contract_admin"]
    add_user(web_rt, "olga", roles)
    code = f"OWN-{workflow.upper().replace('_', '-')}-1"
    lifecycle.submit_contract(
        web_rt, read_data(web_rt, _terms(code, owner="olga")), "alice", workflow=workflow
    )
    task = next(t for t in show(web_rt, code).tasks if t.status == "open" and t.role in roles)
    olga = bearer(web_rt, "olga")
    refused = client.post(f"/api/tasks/{task.id}/act", json={"action": "approve"}, headers=olga)
    assert refused.status_code == 403
    assert refused.json()["error"] == "olga owns this contract and may not approve it"
    # The owner may still send it back (four eyes is about approving).
    back = client.post(
        f"/api/tasks/{task.id}/act",
        json={"action": "reject", "comment": "wrong counterparty"},
        headers=olga,
    )
    assert back.status_code == 200, back.text
