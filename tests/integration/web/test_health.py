"""`/healthz` and `/readyz` for load balancers (issue 16 item 8), the scheduler's state on
the admin page (issue 19 item 1), and one log line per request during a database outage
(issue 19 item 9)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from engine.services.runtime import Runtime
from engine.settings import Settings
from engine.web.app import create_app
from tests.integration.web.support import sign_in

DOWN_URL = "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2"


def write_scheduler_state(rt: Runtime, children: dict[str, dict[str, object]]) -> Path:
    home = Path(rt.settings.data_dir) / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    path = home / "scheduler.json"
    path.write_text(
        json.dumps(
            {
                "owner_pid": os.getpid(),
                "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "heartbeat_seconds": 5,
                "ui_url": "http://127.0.0.1:1",
                "api_url": "http://127.0.0.1:1/api",
                "children": children,
            }
        )
    )
    return path


def child(label: str, state: str, pid: int | None, restarts: int = 0) -> dict[str, object]:
    return {
        "label": label,
        "pid": pid,
        "state": state,
        "restarts": restarts,
        "last_exit": None if state == "running" else 1,
        "since": "2026-01-01T00:00:00+00:00",
    }


def test_healthz_answers_ok_without_sign_in(client: TestClient) -> None:
    response = client.get("/healthz", follow_redirects=False)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_on_a_reachable_database_with_a_current_schema(
    client: TestClient,
) -> None:
    from engine.store.migrate import head_revision

    response = client.get("/readyz", follow_redirects=False)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {
            "database": "ok",
            "schema": {"current": head_revision(), "expected": head_revision()},
            "scheduler": "off",
        },
    }


def test_readyz_is_503_when_the_schema_is_not_upgraded(client: TestClient, web_rt: Runtime) -> None:
    from engine.store.migrate import head_revision

    with web_rt.db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    try:
        response = client.get("/readyz")
    finally:  # the PostgreSQL database is shared by the run's tests
        with web_rt.db.engine.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()}
            )
    assert response.status_code == 503
    body = response.json()
    assert body["error"].startswith("schema: the database is at revision 0000, this code needs")
    assert "contractflow db upgrade" in body["error"]


def test_readyz_is_503_naming_the_database_when_it_is_down(tmp_path: Path) -> None:
    rt = Runtime(Settings(database_url=DOWN_URL, data_dir=tmp_path, risk_backend="python"))
    with TestClient(create_app(rt)) as down:
        response = down.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "unavailable"
        assert response.json()["error"].startswith("database: ")
        assert down.get("/healthz").status_code == 200  # alive all the same
    rt.close()


def test_readyz_is_503_when_the_flow_runner_was_given_up(
    client: TestClient, web_rt: Runtime
) -> None:
    write_scheduler_state(
        web_rt,
        {
            "server": child("Prefect server", "running", os.getpid()),
            "flows": child("flow runner", "failed", None, restarts=5),
        },
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"] == [
        "scheduler: the flow runner is failed (restarts 5, last exit code 1)"
    ]
    assert response.json()["checks"]["scheduler"]["status"] == "failing"


def test_readyz_ignores_the_state_left_by_a_killed_serve(
    client: TestClient, web_rt: Runtime
) -> None:
    path = write_scheduler_state(web_rt, {"flows": child("flow runner", "failed", None)})
    state = json.loads(path.read_text())
    state["owner_pid"] = 2**22 + 12345  # no such process
    path.write_text(json.dumps(state))
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["scheduler"] == "off"


def test_the_outbox_page_shows_the_scheduler_state(client: TestClient, web_rt: Runtime) -> None:
    write_scheduler_state(
        web_rt,
        {
            "server": child("Prefect server", "running", os.getpid()),
            "flows": child("flow runner", "restarting", 4242, restarts=2),
        },
    )
    sign_in(client, "root")
    page = client.get("/admin/outbox")
    assert page.status_code == 200
    assert "Scheduler <small>failing</small>" in page.text
    assert "scheduler: the flow runner is restarting (restarts 2, last exit code 1)" in page.text


def test_a_database_outage_logs_one_line_per_request_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rt = Runtime(Settings(database_url=DOWN_URL, data_dir=tmp_path, risk_backend="python"))
    with TestClient(create_app(rt)) as down:  # raises what the server would log
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = down.get(
                "/api/me", headers={"Authorization": "Bearer cft_not-checked-the-database-is-down"}
            )
        assert response.status_code == 503
        assert response.json()["error"] == "the database is not available; try again"
        assert response.headers["Retry-After"] == "5"
    rt.close()
    ours = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(ours) == 1, [r.getMessage() for r in ours]
    assert ours[0].exc_info is None
    assert ours[0].getMessage().startswith("database unavailable on GET /api/me: ")
