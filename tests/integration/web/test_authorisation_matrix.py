"""Who may do what, through the HTTP API: every role x every action x own / other's.

Two test workflows make "own" and "other's" exact for every role:
- `matrix`: one review stage with a task for every role, so each role has its own task
  on the contract and every other role's task is "other's";
- `solo`: a review stage whose only task is the admin's, so the contract is other's for
  everybody else (only the roles that oversee the portfolio may see it).

Contracts are submitted by adam (contract_admin); alice (contract_admin) also has
contracts of her own. The expected answers are spelled out below, independently of the
access service, so a change of policy shows up here as a failing case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.domain.people import Role
from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.uploads import read_data
from engine.services.views import show
from engine.services.workflows import load_files
from tests.integration.web.support import bearer
from tests.support import EXAMPLES

ROLES = [r.value for r in Role]
#: The user who holds each role (and only it); contract_admin is alice.
HOLDER = {
    "contract_admin": "alice",
    "legal": "lena",
    "legal_lead": "leo",
    "finance": "fei",
    "finance_lead": "flo",
    "risk_officer": "rita",
    "procurement": "paul",
    "signer": "sam",
    "contract_manager": "maria",
    "admin": "root",
}

MATRIX_WORKFLOW = (
    "workflow: matrix\nversion: 1\nstages:\n  - id: drafting\n    actions: {submit: review}\n  - id: review\n    tasks:\n"
    + "".join(f"      - {{role: {r}}}\n" for r in ROLES)
    + "    actions: {approve: done, reject: drafting, request_changes: drafting}\n  - id: done\n    final: true\n"
)
SOLO_WORKFLOW = """workflow: solo
version: 1
stages:
  - id: drafting
    actions: {submit: review}
  - id: review
    tasks: [{role: admin}]
    actions: {approve: done, reject: drafting, request_changes: drafting}
  - id: done
    final: true
"""

SEE_ALL = {"admin", "contract_manager", "risk_officer"}
SUBMIT = {"contract_admin", "admin"}
DASHBOARD = {"admin", "contract_manager", "risk_officer", "contract_admin"}
OUTBOX = {"admin", "contract_manager"}
ALL_TASKS = {"admin", "contract_manager"}
FULFIL_ANY = {"admin", "contract_manager"}


def terms(code: str) -> dict[str, Any]:
    data = json.loads((EXAMPLES / "SC-2026-0060.json").read_text())
    if "id" in data:
        data["id"] = code
    else:
        data = {"id": code, **data}
    data.pop("owner", None)
    return data


def submit(rt: Runtime, code: str, by: str, workflow: str) -> None:
    lifecycle.submit_contract(rt, read_data(rt, terms(code)), by, workflow=workflow)


def task_of(rt: Runtime, code: str, role: str) -> int:
    view = show(rt, code)
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


@pytest.fixture
def world(web_rt: Runtime, tmp_path: Path) -> Runtime:
    from engine.services.users import add_user

    add_user(web_rt, "flo", ["finance_lead"])
    for name, text in (("matrix.yaml", MATRIX_WORKFLOW), ("solo.yaml", SOLO_WORKFLOW)):
        (tmp_path / name).write_text(text)
    load_files(web_rt, [tmp_path / "matrix.yaml", tmp_path / "solo.yaml"])
    for code in ("M-APPROVE", "M-REJECT", "M-CHANGES"):
        submit(web_rt, code, "adam", "matrix")
    submit(web_rt, "S-OTHER", "adam", "solo")
    submit(web_rt, "A-OWN", "alice", "matrix")  # alice's own submission
    submit(web_rt, "A-DRAFT", "alice", "solo")  # alice's, sent back to drafting below
    lifecycle.act(web_rt, task_of(web_rt, "A-DRAFT", "admin"), "request_changes", "root", "fix")
    submit(web_rt, "M-DRAFT", "adam", "matrix")  # adam's, back in drafting
    lifecycle.act(web_rt, task_of(web_rt, "M-DRAFT", "legal"), "request_changes", "lena", "fix")
    return web_rt


def expect(response: Any, allowed: bool, ok: int = 200, denied: tuple[int, ...] = (403,)) -> None:
    body = response.text[:300]
    if allowed:
        assert response.status_code == ok, body
    else:
        assert response.status_code in denied, body
        assert "error" in response.json()


@pytest.mark.parametrize("role", ROLES)
def test_every_action_for_a_role_on_its_own_and_on_others_things(
    role: str, world: Runtime, client: TestClient
) -> None:
    user = HOLDER[role]
    auth = bearer(world, user)
    other_role = "legal" if role != "legal" else "finance"

    def get(path: str) -> Any:
        return client.get(path, headers=auth)

    def post(path: str, body: Any = None) -> Any:
        return client.post(path, json=body, headers=auth)

    # see: own (a task for my role) / other's (only the admin's task)
    expect(get("/api/contracts/M-APPROVE"), True)
    expect(get("/api/contracts/S-OTHER"), role in SEE_ALL, denied=(404,))
    listed = {c["id"] for c in get("/api/contracts").json()}
    assert ("S-OTHER" in listed) == (role in SEE_ALL)
    assert "M-APPROVE" in listed

    # tasks: mine / everyone's
    mine = {t["contract"] for t in get("/api/tasks").json()}
    assert "M-APPROVE" in mine and ("S-OTHER" in mine) == (role == "admin")
    expect(get("/api/tasks?all=true"), role in ALL_TASKS)

    # act on another role's task (own contract) and on the task of a contract I cannot see
    expect(
        post(f"/api/tasks/{task_of(world, 'M-APPROVE', other_role)}/act", {"action": "approve"}),
        False,
    )
    if role != "admin":
        expect(
            post(f"/api/tasks/{task_of(world, 'S-OTHER', 'admin')}/act", {"action": "approve"}),
            False,
        )

    # act on my own task: approve, reject, request changes
    for code, action in (
        ("M-APPROVE", "approve"),
        ("M-REJECT", "reject"),
        ("M-CHANGES", "request_changes"),
    ):
        task = task_of(world, code, role)
        expect(post(f"/api/tasks/{task}/act", {"action": action, "comment": "seen"}), True)

    # no self-approval: alice's own submission, her own role's task
    if role == "contract_admin":
        response = post(f"/api/tasks/{task_of(world, 'A-OWN', role)}/act", {"action": "approve"})
        expect(response, False)
        assert "may not approve" in response.json()["error"]

    # submit a new draft; a draft that reuses another's contract id (a revision of theirs)
    expect(post("/api/contracts", terms(f"NEW-{role}")), role in SUBMIT, ok=201)
    expect(
        client.put("/api/contracts/M-DRAFT", json=terms("M-DRAFT"), headers=auth),
        role == "admin",
        denied=(403, 404),
    )
    # revise own (alice's draft) — only alice and admin may
    expect(
        client.put("/api/contracts/A-DRAFT", json=terms("A-DRAFT"), headers=auth),
        role in {"contract_admin", "admin"},
        denied=(403, 404),
    )

    # obligations: on a contract owned by someone else / by me
    expect(
        post("/api/contracts/M-APPROVE/obligations/OB-1/fulfil", {}),
        role in FULFIL_ANY,
        denied=(403, 404),
    )
    expect(
        post("/api/contracts/A-OWN/obligations/OB-1/fulfil", {}),
        role in FULFIL_ANY or role == "contract_admin",
        denied=(403, 404),
    )

    # portfolio and administration
    expect(get("/api/dashboard"), role in DASHBOARD)
    expect(get("/api/alerts"), role in OUTBOX)
    expect(get("/api/users"), role == "admin")
    expect(post("/api/alerts/999/retry"), role == "admin", ok=404)
    expect(get("/api/me"), True)


def test_no_token_means_401_everywhere(client: TestClient) -> None:
    for path in ("/api/contracts", "/api/tasks", "/api/inbox", "/api/dashboard", "/api/me"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"].startswith("sign in")
