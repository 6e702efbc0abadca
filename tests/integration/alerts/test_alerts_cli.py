"""`contractflow alerts run | list | retry` as a user types them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.store import models as m
from tests.integration.alerts.support import SmtpServer, add_contract
from tests.integration.cli_support import run_cli


def smtp_env(port: int) -> dict[str, str]:
    return {
        "CONTRACTFLOW_SMTP_HOST": "127.0.0.1",
        "CONTRACTFLOW_SMTP_PORT": str(port),
        "CONTRACTFLOW_MAIL_FROM": "cf@example.com",
    }


def test_alerts_run_list_and_retry_from_the_command_line(
    db_url: str, make_rt: Any, people: dict[str, int], smtp: SmtpServer
) -> None:
    rt = make_rt(smtp.port)
    with rt.db.transaction() as session:
        alice = session.get(m.User, people["alice"])
        add_contract(
            session,
            "SC-2027-0001",
            alice,
            [
                {"oid": "OB-1", "due": dt.date(2027, 2, 20)},
                {"oid": "OB-2", "due": dt.date(2027, 2, 21)},
            ],
        )
    smtp.handler.replies = ["550 5.1.1 No such user"]
    env = smtp_env(smtp.port)

    first = run_cli(
        "alerts",
        "run",
        "--as-of",
        "2027-03-01",
        "--force",
        "--format",
        "json",
        db_url=db_url,
        **env,
    )
    assert first.code == 0, first.stderr
    assert first.json == {"sent": 1, "skipped_duplicates": 0, "failed": 1}
    assert "1 alert(s) not delivered" in first.stderr

    failed = run_cli(
        "alerts", "list", "--status", "failed", "--format", "json", db_url=db_url, **env
    )
    assert failed.code == 0
    [row] = failed.json
    assert row["last_error"] == "550 5.1.1 No such user"
    assert row["contract"] == "SC-2027-0001"

    table = run_cli("alerts", "list", db_url=db_url, **env)
    assert table.code == 0 and "reply: 550 5.1.1 No such user" in table.stdout

    retried = run_cli("alerts", "retry", str(row["id"]), "--format", "json", db_url=db_url, **env)
    assert retried.code == 0 and retried.json["status"] == "pending"
    again = run_cli(
        "alerts",
        "run",
        "--as-of",
        "2027-03-01",
        "--force",
        "--format",
        "json",
        db_url=db_url,
        **env,
    )
    assert again.json == {"sent": 1, "skipped_duplicates": 2, "failed": 0}
    assert len(smtp.messages) == 2

    not_failed = run_cli("alerts", "retry", str(row["id"]), db_url=db_url, **env)
    assert not_failed.code == 1 and "not failed" in not_failed.stderr
    missing = run_cli("alerts", "retry", "4242", db_url=db_url, **env)
    assert missing.code == 2 and "alert 4242 does not exist" in missing.stderr


def test_bad_options_are_refused_with_one_line(db_url: str) -> None:
    bad_status = run_cli("alerts", "list", "--status", "lost", db_url=db_url)
    assert bad_status.code == 2
    assert "--status: 'lost' is not one of pending, sent, failed" in bad_status.stderr
    assert "Traceback" not in bad_status.stderr
    bad_date = run_cli("alerts", "run", "--as-of", "tomorrow", db_url=db_url)
    assert bad_date.code == 2 and "--as-of" in bad_date.stderr
