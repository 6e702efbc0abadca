"""Task emails go out within seconds of the change: after a CLI command, and from the
sender thread of `serve`; a mail server that is down loses nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.services import lifecycle
from engine.services.alerts import run_alerts
from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.services.users import add_user
from engine.settings import Settings
from engine.web.app import create_app
from tests.integration.alerts.support import SmtpServer, free_port
from tests.integration.cli_support import run_cli
from tests.integration.notices.support import notices
from tests.integration.workflow.support import PEOPLE, contract_file


def _wait_for(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _cli_database(tmp_path: Path) -> str:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    rt = Runtime(Settings(database_url=db_url, data_dir=tmp_path / "data"))
    try:
        initialise(rt)
        for name, roles in PEOPLE.items():
            add_user(rt, name, list(roles), email=f"{name}@example.com")
    finally:
        rt.close()
    return db_url


@pytest.mark.slow
def test_a_cli_submit_has_sent_the_task_emails_when_it_returns(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    db_url = _cli_database(tmp_path)
    result = run_cli(
        "submit",
        str(contract_file(tmp_path, amount=500000)),
        "--as",
        "alice",
        db_url=db_url,
        cwd=tmp_path,
        CONTRACTFLOW_RISK_BACKEND="python",
        CONTRACTFLOW_SMTP_PORT=str(smtp.port),
        CONTRACTFLOW_BASE_URL="https://cf.example.com",
    )
    assert result.code == 0, result.stderr
    assert sorted(r for msg in smtp.messages for r in msg.recipients) == [
        "lars@example.com",
        "lena@example.com",
    ]
    assert "outbox" not in result.stderr


@pytest.mark.slow
def test_a_cli_command_with_the_mail_server_down_succeeds_and_the_emails_wait(
    tmp_path: Path,
) -> None:
    db_url = _cli_database(tmp_path)
    port = free_port()  # nothing listens here yet
    env = {"CONTRACTFLOW_RISK_BACKEND": "python", "CONTRACTFLOW_SMTP_PORT": str(port)}
    path = str(contract_file(tmp_path, amount=500000))
    result = run_cli("submit", path, "--as", "alice", db_url=db_url, cwd=tmp_path, **env)
    assert result.code == 0, result.stderr
    assert "2 email(s) wait in the outbox" in result.stderr
    server = SmtpServer(port).start()
    try:
        rt = Runtime(Settings(database_url=db_url, data_dir=tmp_path / "data", smtp_port=port))
        try:
            assert {r.status for r in notices(rt)} == {"pending"}
            run_alerts(rt)  # the daily job sends whatever waits (obligation alerts too)
            assert {r.status for r in notices(rt)} == {"sent"}
        finally:
            rt.close()
        task_mails = [
            msg
            for msg in server.messages
            if str(msg.message["X-Contractflow-Alert"]).startswith("task:")
        ]
        assert sorted(r for msg in task_mails for r in msg.recipients) == [
            "lars@example.com",
            "lena@example.com",
        ]
    finally:
        server.stop()


def test_the_serve_sender_thread_sends_within_seconds_of_the_commit(
    nrt: Runtime, tmp_path: Path, smtp: SmtpServer
) -> None:
    slow_poll = Runtime(
        nrt.settings.model_copy(update={"notice_poll_seconds": 3600.0}), clock=nrt.clock
    )
    slow_poll.set_evaluator(nrt.evaluator)
    try:
        with TestClient(create_app(slow_poll, send_emails=True)) as client:
            assert client.app.state.sender is not None  # type: ignore[attr-defined]
            started = time.monotonic()
            lifecycle.submit(slow_poll, contract_file(tmp_path, amount=500000), "alice")
            assert _wait_for(lambda: len(smtp.messages) == 2), "no task email within 10 s"
            assert time.monotonic() - started < 10
    finally:
        slow_poll.close()
    assert {r.status for r in notices(nrt)} == {"sent"}
