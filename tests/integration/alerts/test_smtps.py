"""Implicit TLS (SMTPS, port 465: `CONTRACTFLOW_SMTP_SSL`) against a real TLS server, and
`alerts run` exiting 1 when the mail server is unreachable (issue 19 item 8)."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import pytest

from engine.services.alerts import list_alerts, run_alerts
from engine.store import models as m
from tests.integration.alerts.support import SmtpServer, add_contract, free_port
from tests.integration.alerts.test_starttls import self_signed
from tests.integration.cli_support import run_cli


def test_implicit_tls_is_spoken_from_the_first_byte_with_the_certificate_checked(
    make_rt: Any, people: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    smtp = SmtpServer()
    # ssl_context: the server speaks TLS at once and understands nothing else (port 465).
    controller = Controller(
        smtp.handler, hostname="127.0.0.1", port=smtp.port, ssl_context=server_tls
    )
    controller.start()
    try:
        rt = make_rt(smtp.port, smtp_ssl=True)
        with rt.db.transaction() as session:
            add_contract(
                session,
                "SC-SMTPS",
                session.get(m.User, people["alice"]),
                [{"oid": "A", "due": dt.date(2027, 2, 27)}],
            )
        # Untrusted certificate: refused, nothing sent, the reason recorded.
        assert run_alerts(rt, dt.date(2027, 3, 1), backoff=0.01)["deferred"] == 1
        [row] = list_alerts(rt, "pending")
        assert "CERTIFICATE_VERIFY_FAILED" in row["last_error"]
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted, as a real CA would be
        assert run_alerts(rt, dt.date(2027, 3, 1))["sent"] == 1
        assert smtp.messages[0].recipients == ["alice@example.com"]
    finally:
        controller.stop()


def test_alerts_run_exits_1_when_the_mail_server_is_unreachable_with_the_reason_listed(
    db_url: str, make_rt: Any, people: dict[str, int]
) -> None:
    port = free_port()  # nothing listens there
    rt = make_rt(port)
    with rt.db.transaction() as session:
        add_contract(
            session,
            "SC-DOWN",
            session.get(m.User, people["alice"]),
            [{"oid": "A", "due": dt.date(2027, 2, 27)}],
        )
    env = {
        "CONTRACTFLOW_SMTP_HOST": "127.0.0.1",
        "CONTRACTFLOW_SMTP_PORT": str(port),
        "CONTRACTFLOW_MAIL_FROM": "cf@example.com",
    }
    result = run_cli(
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
    assert result.code == 1, result.stderr
    assert result.json == {"sent": 0, "skipped_duplicates": 0, "failed": 0, "deferred": 1}
    assert '"error": "mail server unavailable: ' in result.stderr
    listed = run_cli(
        "alerts", "list", "--status", "pending", "--format", "json", db_url=db_url, **env
    )
    [row] = listed.json
    assert row["last_error"].startswith("mail server unavailable: ")
