"""`contractflow tokens ...` and `contractflow serve`, run as a user runs them."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from tests.integration.cli_support import run_cli


@pytest.fixture
def db_url(web_sqlite_url: str) -> str:
    return web_sqlite_url


def test_a_token_made_on_the_command_line_opens_the_api_until_revoked(
    web_rt: Runtime, client: TestClient, db_url: str
) -> None:
    made = run_cli("tokens", "create", "--as", "rita", "--name", "report", db_url=db_url)
    assert made.code == 0, made.stderr
    token = made.stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=headers).json()["username"] == "rita"
    listed = run_cli("tokens", "list", "--as", "rita", "--format", "json", db_url=db_url)
    assert token not in listed.stdout
    [row] = listed.json
    assert row["name"] == "report" and row["revoked"] is False
    assert run_cli("tokens", "revoke", str(row["id"]), db_url=db_url).code == 0
    assert client.get("/api/me", headers=headers).status_code == 401


def test_a_token_for_an_unknown_user_is_refused(web_rt: Runtime, db_url: str) -> None:
    result = run_cli("tokens", "create", "--as", "nobody", db_url=db_url)
    assert result.code == 2
    assert "nobody" in result.stderr and "Traceback" not in result.stderr


def test_serve_refuses_a_port_in_use(web_rt: Runtime, db_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--no-scheduler", db_url=db_url)
    assert result.code == 2
    assert "already in use" in result.stderr


def test_the_task_list_pages_on_the_api_and_the_command_line(
    web_rt: Runtime, client: TestClient, db_url: str
) -> None:
    from engine.services.demo_data import load_demo_contracts
    from engine.services.views import TASKS_PAGE, list_tasks
    from tests.integration.web.support import bearer
    from tests.support import EXAMPLES

    load_demo_contracts(web_rt, EXAMPLES)
    whole = [t.id for t in list_tasks(web_rt, None, all_tasks=True)]
    assert len(whole) >= 2
    maria = bearer(web_rt, "maria")
    first = client.get("/api/tasks?all=true&limit=1", headers=maria)
    assert [t["id"] for t in first.json()] == whole[:1]
    assert first.headers["X-Next-Offset"] == "1"
    rest = client.get("/api/tasks?all=true&limit=1000&offset=1", headers=maria)
    assert [t["id"] for t in rest.json()] == whole[1:]
    assert "X-Next-Offset" not in rest.headers
    assert client.get("/api/tasks?limit=0", headers=maria).status_code == 422
    assert client.get("/api/tasks?limit=1001", headers=maria).status_code == 422

    paged = run_cli("tasks", "--all", "--limit", "1", "--format", "json", db_url=db_url)
    assert paged.code == 0, paged.stderr
    assert [t["id"] for t in paged.json] == whole[:1]  # still SPEC's JSON list
    assert "--offset 1" in paged.stderr
    bad = run_cli("tasks", "--all", "--limit", "0", db_url=db_url)
    assert bad.code == 2 and "Traceback" not in bad.stderr
    helped = run_cli("tasks", "--help", db_url=db_url)
    assert f"default: {TASKS_PAGE}" in helped.stdout.replace("[", "").replace("]", "")
