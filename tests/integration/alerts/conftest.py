"""Fixtures for the alert tests: a real SMTP server and a runtime pointed at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.services.runtime import Runtime
from engine.services.users import seed_roles
from engine.settings import Settings
from tests.integration.alerts.support import SmtpServer, add_user
from tests.support import FrozenClock


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def alert_settings(db_url: str, tmp_path: Path, port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "data_dir": tmp_path / "data",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_timeout_seconds": 5,
        "mail_from": "contractflow@alerts.example.com",
        "base_url": "https://cf.example.com",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def alert_clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2027, 3, 1, 7, 0, tzinfo=dt.UTC))


@pytest.fixture
def make_rt(db_url: str, tmp_path: Path, alert_clock: FrozenClock) -> Iterator[object]:
    """`make_rt(port)` -> a Runtime on the test database that mails 127.0.0.1:port."""
    made: list[Runtime] = []

    def make(port: int, **overrides: object) -> Runtime:
        rt = Runtime(alert_settings(db_url, tmp_path, port, **overrides), clock=alert_clock)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def people(db_url: str) -> dict[str, int]:
    """alice (contract owner), bob (names himself on an obligation), two managers, and
    nomail (an owner without an email address)."""
    from engine.store.db import Database

    db = Database(db_url)
    with db.transaction() as session:
        seed_roles(session)
        session.flush()
        ids = {
            "alice": add_user(session, "alice", "alice@example.com", ("contract_admin",)).id,
            "bob": add_user(session, "bob", "bob@example.com", ("finance",)).id,
            "maria": add_user(session, "maria", "maria@example.com", ("contract_manager",)).id,
            "mike": add_user(session, "mike", "mike@example.com", ("contract_manager",)).id,
            "nomail": add_user(session, "nomail", None, ("contract_admin",)).id,
        }
    db.dispose()
    return ids
