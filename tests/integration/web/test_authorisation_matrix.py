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
    """For every role R: M-APPROVE-R, M-REJECT-R, M-CHANGES-R (adam's, on `matrix`) and
    A-OWN-R (alice's own, on `matrix`); S-OTHER (adam's, on `solo`); drafts sent back to
    drafting: M-DRAFT (adam's) and A-DRAFT-contract_admin, A-DRAFT-admin (alice's)."""
    from engine.services.users import add_user

    add_user(web_rt, "flo", ["finance_lead"])
    for name, text in (("matrix.yaml", MATRIX_WORKFLOW), ("solo.yaml", SOLO_WORKFLOW)):
        (tmp_path / name).write_text(text)
    load_files(web_rt, [tmp_path / "matrix.yaml", tmp_path / "solo.yaml"])
    for role in ROLES:
        for kind in ("M-APPROVE", "M-REJECT", "M-CHANGES"):
            submit(web_rt, f"{kind}-{role}", "adam", "matrix")
        submit(web_rt, f"A-OWN-{role}", "alice", "matrix")
    submit(web_rt, "S-OTHER", "adam", "solo")
    for code in ("A-DRAFT-contract_admin", "A-DRAFT-admin"):
        submit(web_rt, code, "alice", "solo")
        lifecycle.act(web_rt, task_of(web_rt, code, "admin"), "request_changes", "root", "fix")
    submit(web_rt, "M-DRAFT", "adam", "matrix")
    lifecycle.act(web_rt, task_of(web_rt, "M-DRAFT", "legal"), "request_changes", "lena", "fix")
    return web_rt


class Matrix:
    """Collects every cell that differs from what is expected, to report them all at once."""

    def __init__(self) -> None:
        self.wrong: list[str] = []

    def expect(
        self,
        cell: str,
        response: Any,
        allowed: bool,
        ok: int = 200,
        denied: tuple[int, ...] = (403,),
    ) -> None:
        good = response.status_code == ok if allowed else response.status_code in denied
        if good and not allowed:
            good = "error" in response.json()
        if not good:
            want = ok if allowed else "/".join(map(str, denied))
            self.wrong.append(
                f"{cell}: got {response.status_code}, want {want}: {response.text[:200]}"
            )

    def check(self, cell: str, condition: bool) -> None:
        if not condition:
            self.wrong.append(f"{cell}: does not hold")


def test_every_role_every_action_on_own_and_others_things(
    world: Runtime, client: TestClient
) -> None:
    matrix = Matrix()
    for role in ROLES:
        check_role(matrix, role, world, client)
    assert not matrix.wrong, "\n".join(matrix.wrong)


def check_role(matrix: Matrix, role: str, world: Runtime, client: TestClient) -> None:
    user = HOLDER[role]
    auth = bearer(world, user)
    other_role = "legal" if role != "legal" else "finance"

    def get(path: str) -> Any:
        return client.get(path, headers=auth)

    def post(path: str, body: Any = None) -> Any:
        return client.post(path, json=body, headers=auth)

    def put(path: str, body: Any) -> Any:
        return client.put(path, json=body, headers=auth)

    def cell(action: str) -> str:
        return f"{role} ({user}) {action}"

    mine = f"M-APPROVE-{role}"
    # see: own (a task for my role) / other's (only the admin has a task)
    matrix.expect(cell("show own"), get(f"/api/contracts/{mine}"), True)
    matrix.expect(
        cell("show other's"), get("/api/contracts/S-OTHER"), role in SEE_ALL, denied=(404,)
    )
    listed = {c["id"] for c in get("/api/contracts?limit=500").json()}
    matrix.check(cell("list shows own"), mine in listed)
    matrix.check(cell("list hides other's"), ("S-OTHER" in listed) == (role in SEE_ALL))

    # tasks: mine / everyone's
    tasks = {t["contract"] for t in get("/api/tasks").json()}
    matrix.check(cell("tasks has own"), mine in tasks)
    matrix.check(cell("tasks has other's"), ("S-OTHER" in tasks) == (role == "admin"))
    matrix.expect(cell("list every task"), get("/api/tasks?all=true"), role in ALL_TASKS)

    # act on another role's task (on a contract I see) and on a contract I cannot see
    other_task = task_of(world, mine, other_role)
    matrix.expect(
        cell("approve other role's task"),
        post(f"/api/tasks/{other_task}/act", {"action": "approve"}),
        False,
    )
    if role != "admin":
        solo = task_of(world, "S-OTHER", "admin")
        matrix.expect(
            cell("approve task on other's contract"),
            post(f"/api/tasks/{solo}/act", {"action": "approve"}),
            False,
        )

    # act on my own task: approve, reject, request changes
    for kind, action in (
        ("M-APPROVE", "approve"),
        ("M-REJECT", "reject"),
        ("M-CHANGES", "request_changes"),
    ):
        task = task_of(world, f"{kind}-{role}", role)
        matrix.expect(
            cell(f"{action} own task"),
            post(f"/api/tasks/{task}/act", {"action": action, "comment": "seen"}),
            True,
        )

    # no self-approval: alice's own submission, her own role's task
    if role == "contract_admin":
        own = task_of(world, f"A-OWN-{role}", role)
        response = post(f"/api/tasks/{own}/act", {"action": "approve"})
        matrix.expect(cell("approve own submission"), response, False)
        matrix.check(cell("says why"), "may not approve" in response.json()["error"])

    # submit a new draft; revise another's draft; revise my own draft
    matrix.expect(
        cell("submit"), post("/api/contracts", terms(f"NEW-{role}")), role in SUBMIT, ok=201
    )
    matrix.expect(
        cell("revise other's"),
        put("/api/contracts/M-DRAFT", terms("M-DRAFT")),
        role == "admin",
        denied=(403, 404),
    )
    own_draft = "A-DRAFT-admin" if role == "admin" else "A-DRAFT-contract_admin"
    matrix.expect(
        cell("revise own"),
        put(f"/api/contracts/{own_draft}", terms(own_draft)),
        role in {"contract_admin", "admin"},
        denied=(403, 404),
    )

    # obligations: on a contract owned by someone else / by alice
    # (the matrix workflow tracks no obligations: one who may record fulfilment passes the
    # permission check and meets the stage check, 409; anyone else is refused before it)
    matrix.expect(
        cell("fulfil on other's"),
        post(f"/api/contracts/{mine}/obligations/OB-1/fulfil", {}),
        role in FULFIL_ANY,
        ok=409,
        denied=(403, 404),
    )
    matrix.expect(
        cell("fulfil on own"),
        post(f"/api/contracts/A-OWN-{role}/obligations/OB-1/fulfil", {}),
        role in FULFIL_ANY or role == "contract_admin",
        ok=409,
        denied=(403, 404),
    )

    # portfolio and administration
    matrix.expect(cell("dashboard"), get("/api/dashboard"), role in DASHBOARD)
    matrix.expect(cell("alert outbox"), get("/api/alerts"), role in OUTBOX)
    matrix.expect(cell("users"), get("/api/users"), role == "admin")
    matrix.expect(cell("retry alert"), post("/api/alerts/999/retry"), role == "admin", ok=404)
    matrix.expect(cell("me"), get("/api/me"), True)


def test_no_token_means_401_everywhere(client: TestClient) -> None:
    for path in ("/api/contracts", "/api/tasks", "/api/inbox", "/api/dashboard", "/api/me"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"].startswith("sign in")
