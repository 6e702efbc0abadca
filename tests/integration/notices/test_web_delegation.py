"""Out of office and reassignment in the web app; both email the people who may now act."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from engine.services import lifecycle
from engine.services.runtime import Runtime
from engine.services.views import show
from engine.store import models as m
from engine.web.app import create_app
from tests.integration.notices.support import notices
from tests.integration.web.support import password_hash, sign_in
from tests.integration.workflow.support import contract_file
from tests.support import FrozenClock


@pytest.fixture
def client(nrt: Runtime) -> Iterator[TestClient]:
    with nrt.db.transaction() as session:
        session.execute(update(m.User).values(password_hash=password_hash()))
    with TestClient(create_app(nrt), base_url="https://cf.example.com") as c:
        yield c


def _open(view: lifecycle.ContractView, role: str) -> int:
    return next(t.id for t in view.tasks if t.role == role and t.status == "open")


def test_a_reviewer_sets_an_out_of_office_delegate_and_the_delegate_is_emailed(
    nrt: Runtime, tmp_path: Path, client: TestClient, clock: FrozenClock
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    lifecycle.reassign(nrt, _open(view, "legal"), "lena", "maria")
    csrf = sign_in(client, "lena")
    today = clock.now.date().isoformat()
    response = client.post(
        "/away",
        data={"csrf_token": csrf, "to_user": "lars", "starts_on": today, "ends_on": today},
    )
    assert response.status_code == 200 and "lars acts on your tasks" in response.text
    assert "<td>lena</td><td>lars</td>" in response.text
    delegated = [r for r in notices(nrt) if r.level == "delegated"]
    assert [r.recipients for r in delegated] == [["lars@example.com"]]


def test_a_bad_delegation_form_says_why_and_stores_nothing(
    nrt: Runtime, client: TestClient
) -> None:
    csrf = sign_in(client, "lena")
    response = client.post(
        "/away",
        data={"csrf_token": csrf, "to_user": "sam", "starts_on": "2027-01-04", "ends_on": "x"},
    )
    assert response.status_code == 400 and "until: &#39;x&#39; is not a date" in response.text
    response = client.post(
        "/away",
        data={
            "csrf_token": csrf,
            "to_user": "sam",
            "starts_on": "2027-01-04",
            "ends_on": "2027-01-05",
        },
    )
    assert response.status_code == 400 and "holds none of lena" in response.text
    assert lifecycle.list_delegations(nrt) == []


def test_a_manager_reassigns_a_task_on_the_contract_page_and_the_assignee_is_emailed(
    nrt: Runtime, tmp_path: Path, client: TestClient
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    task = _open(view, "legal")
    csrf = sign_in(client, "maria")
    page = client.get(f"/contracts/{view.id}")
    assert f'action="/tasks/{task}/reassign"' in page.text
    response = client.post(
        f"/tasks/{task}/reassign", data={"csrf_token": csrf, "to_user": "lars", "comment": "x"}
    )
    assert response.status_code == 200 and f"Task {task} is now lars" in response.text
    assert next(t for t in show(nrt, view.id).tasks if t.id == task).assignee == "lars"
    assert [r.recipients for r in notices(nrt) if r.level == "reassigned"] == [["lars@example.com"]]


def test_a_reviewer_cannot_reassign(nrt: Runtime, tmp_path: Path, client: TestClient) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    task = _open(view, "legal")
    csrf = sign_in(client, "lena")
    assert 'reassign"' not in client.get(f"/contracts/{view.id}").text
    response = client.post(f"/tasks/{task}/reassign", data={"csrf_token": csrf, "to_user": "lars"})
    assert "Not done" in response.text and "may not reassign" in response.text
    assert next(t for t in show(nrt, view.id).tasks if t.id == task).assignee is None


def test_the_inbox_lists_a_contract_sent_back_to_its_owner(
    nrt: Runtime, tmp_path: Path, client: TestClient
) -> None:
    view = lifecycle.submit(nrt, contract_file(tmp_path, amount=500000), "alice")
    lifecycle.act(nrt, _open(view, "legal"), "request_changes", "lena", "cap <the> penalty")
    sign_in(client, "alice")
    page = client.get("/inbox").text
    assert 'id="hand-backs"' in page
    assert "revise SC-2026-0042 (changes requested by lena: cap &lt;the&gt; penalty)" in page
    sign_in(client, "lena")
    assert 'id="hand-backs"' not in client.get("/inbox").text
