"""The API operations a script needs that were on the CLI only (issue 19 item 6): waive an
obligation, delegate and list delegations, show and reassign a task, a contract's history;
each authorised as the CLI and web are, and every list paginated with `X-Next-Offset`."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from tests.integration.web.support import bearer, sign_in
from tests.integration.web.test_after_signing_web import _terms, signed


def _submitted(
    client: TestClient, rt: Runtime, code: str = "SC-2026-0042"
) -> tuple[str, dict[str, object]]:
    """A contract submitted by alice; returns its code and its first open legal task."""
    terms = _terms(amount=500000, id=code)
    made = client.post("/api/contracts", json=terms, headers=bearer(rt, "alice"))
    assert made.status_code == 201, made.text
    view = made.json()
    task = next(t for t in view["tasks"] if t["status"] == "open" and t["role"] == "legal")
    return str(view["id"]), task


def test_the_owner_waives_an_obligation_with_a_comment_and_a_reviewer_may_not(
    client: TestClient, web_rt: Runtime
) -> None:
    code = signed(client, web_rt)
    url = f"/api/contracts/{code}/obligations/OB-1/waive"
    refused = client.post(url, json={"comment": "not needed"}, headers=bearer(web_rt, "lena"))
    assert refused.status_code == 403, refused.text
    assert set(refused.json()) == {"error", "problems"}
    no_comment = client.post(url, json={"comment": ""}, headers=bearer(web_rt, "alice"))
    assert no_comment.status_code == 422
    done = client.post(url, json={"comment": "paid in kind"}, headers=bearer(web_rt, "alice"))
    assert done.status_code == 200, done.text
    status = {o["id"]: o["status"] for o in done.json()["obligations"]}
    assert status["OB-1"] == "waived"


def test_a_contracts_history_is_paginated_and_refused_to_who_may_not_see_it(
    client: TestClient, web_rt: Runtime
) -> None:
    code = signed(client, web_rt)
    root = bearer(web_rt, "root")
    everything = client.get(f"/api/contracts/{code}", headers=root).json()["history"]
    assert len(everything) > 2
    first = client.get(f"/api/contracts/{code}/history?limit=2", headers=root)
    assert first.status_code == 200, first.text
    assert first.json() == everything[:2]
    assert first.headers["X-Next-Offset"] == "2"
    rest = client.get(f"/api/contracts/{code}/history?limit=500&offset=2", headers=root)
    assert rest.json() == everything[2:] and "X-Next-Offset" not in rest.headers
    refused = client.get(f"/api/contracts/{code}/history", headers=bearer(web_rt, "paul"))
    assert refused.status_code in (403, 404), refused.text
    assert set(refused.json()) == {"error", "problems"}


def test_a_task_is_shown_and_reassigned_by_a_contract_manager_but_not_by_a_reviewer(
    client: TestClient, web_rt: Runtime
) -> None:
    code, task = _submitted(client, web_rt)
    shown = client.get(f"/api/tasks/{task['id']}", headers=bearer(web_rt, "lena"))
    assert shown.status_code == 200, shown.text
    assert shown.json()["id"] == task["id"] and shown.json()["role"] == "legal"
    assert client.get(f"/api/tasks/{task['id']}", headers=bearer(web_rt, "paul")).status_code in (
        403,
        404,
    )
    assert client.get("/api/tasks/999999", headers=bearer(web_rt, "root")).status_code == 404
    url = f"/api/tasks/{task['id']}/reassign"
    refused = client.post(url, json={"to_user": "lars"}, headers=bearer(web_rt, "lena"))
    assert refused.status_code == 403, refused.text
    done = client.post(
        url, json={"to_user": "lars", "comment": "lena is away"}, headers=bearer(web_rt, "maria")
    )
    assert done.status_code == 200, done.text
    after = client.get(f"/api/tasks/{task['id']}", headers=bearer(web_rt, "maria")).json()
    assert after["assignee"] == "lars"
    assert done.json()["id"] == code


def test_delegating_over_the_api_lists_it_and_others_may_not_list_someone_elses(
    client: TestClient, web_rt: Runtime
) -> None:
    today = web_rt.today()
    body = {
        "to_user": "lars",
        "starts_on": today.isoformat(),
        "ends_on": (today + dt.timedelta(days=5)).isoformat(),
    }
    made = client.post("/api/delegations", json=body, headers=bearer(web_rt, "lena"))
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == "/api/delegations?user=lena"
    assert (made.json()["from_user"], made.json()["to_user"]) == ("lena", "lars")
    mine = client.get("/api/delegations", headers=bearer(web_rt, "lena")).json()
    assert [d["id"] for d in mine] == [made.json()["id"]]
    assert client.get("/api/delegations", headers=bearer(web_rt, "fei")).json() == []
    refused = client.get("/api/delegations?user=lena", headers=bearer(web_rt, "fei"))
    assert refused.status_code == 403, refused.text
    assert len(client.get("/api/delegations?user=lena", headers=bearer(web_rt, "root")).json()) == 1
    not_shared = dict(body, to_user="fei")  # fei does not hold legal
    assert (
        client.post("/api/delegations", json=not_shared, headers=bearer(web_rt, "lena")).status_code
        == 400
    )
    for_other = client.post(
        "/api/delegations", json=dict(body, for_user="leo"), headers=bearer(web_rt, "lena")
    )
    assert for_other.status_code == 403, for_other.text


def test_a_signed_in_browser_must_send_the_csrf_token_to_delegate(
    client: TestClient, web_rt: Runtime
) -> None:
    csrf = sign_in(client, "lena")
    today = web_rt.today().isoformat()
    body = {"to_user": "lars", "starts_on": today, "ends_on": today}
    assert client.post("/api/delegations", json=body).status_code == 403
    assert client.get("/api/delegations").json() == []
    done = client.post("/api/delegations", json=body, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 201, done.text


def test_the_contract_list_gives_the_next_offset_like_the_task_list(
    client: TestClient, web_rt: Runtime
) -> None:
    for code in ("SC-2026-0042", "SC-2026-0043"):
        _submitted(client, web_rt, code)
    root = bearer(web_rt, "root")
    first = client.get("/api/contracts?limit=1", headers=root)
    assert first.status_code == 200 and len(first.json()) == 1
    assert first.headers["X-Next-Offset"] == "1"
    last = client.get("/api/contracts?limit=1&offset=1", headers=root)
    assert len(last.json()) == 1 and "X-Next-Offset" not in last.headers


@pytest.mark.parametrize(
    "path",
    [
        "/api/contracts",
        "/api/tasks?all=true",
        "/api/delegations",
        "/api/alerts",
        "/api/admin/log",
        "/api/counterparties",
    ],
)
def test_every_list_walks_page_by_page_with_x_next_offset_to_the_whole_list(
    client: TestClient, web_rt: Runtime, path: str
) -> None:
    for code in ("SC-2026-0042", "SC-2026-0043"):
        _submitted(client, web_rt, code)
    today = web_rt.today().isoformat()
    root = bearer(web_rt, "root")
    for from_user, to_user in (("lena", "lars"), ("lars", "lena")):
        body = {"to_user": to_user, "starts_on": today, "ends_on": today, "for_user": from_user}
        made = client.post("/api/delegations", json=body, headers=root)
        assert made.status_code == 201, made.text
    joiner = "&" if "?" in path else "?"
    whole = client.get(f"{path}{joiner}limit=500", headers=root)
    assert whole.status_code == 200, whole.text
    walked: list[object] = []
    offset: str | None = "0"
    pages = 0
    while offset is not None:
        got = client.get(f"{path}{joiner}limit=1&offset={offset}", headers=root)
        assert got.status_code == 200, got.text
        walked += got.json()
        pages += 1
        offset = got.headers.get("X-Next-Offset")
        assert pages <= len(whole.json()) + 1
    assert walked == whole.json()
    if path not in ("/api/counterparties", "/api/alerts"):  # empty on a fresh database
        assert pages >= 2, f"{path} has {len(whole.json())} items"
