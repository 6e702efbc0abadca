"""Fixtures for task emails: a real SMTP server and a runtime with the workflow people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.services.runtime import Runtime
from engine.services.users import seed_roles
from engine.settings import Settings
from tests.integration.alerts.support import SmtpServer
from tests.integration.workflow.support import prepare
from tests.support import FrozenClock


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def nrt(db_url: str, tmp_path: Path, clock: FrozenClock, smtp: SmtpServer) -> Iterator[Runtime]:
    """Workflows, the test people (each with an email), mail to the test server, links."""
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_from="contractflow@cf.example.com",
        base_url="https://cf.example.com",
        secret_key="test-secret-key-for-links",  # type: ignore[arg-type]
    )
    runtime = Runtime(settings, clock=clock)
    with runtime.db.transaction() as session:
        seed_roles(session)
    prepare(runtime)
    yield runtime
    runtime.close()
