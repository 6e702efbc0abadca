"""Shared fixtures: a real database per test, on SQLite and (when configured) PostgreSQL.

`CONTRACTFLOW_TEST_DATABASE_URL` points at a PostgreSQL server; this suite creates a fresh
database there for the run and drops it at the end. `make test` sets the variable whenever
the local server answers.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.services.runtime import Runtime
from engine.settings import Settings
from engine.store import migrate
from engine.store.db import Database
from engine.store.models import Base
from tests.support import FrozenClock, fresh_pg_database

PG_URL = os.environ.get("CONTRACTFLOW_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """A PostgreSQL database created for this run (None when no server is configured)."""
    if not PG_URL:
        yield None
        return
    with fresh_pg_database(PG_URL, "cf_test_") as created:
        url = created.render_as_string(hide_password=False)
        db = Database(url)
        migrate.upgrade(db)
        db.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


def _truncate_all(url: str) -> None:
    db = Database(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        # The audit trail refuses TRUNCATE (a trigger); a scratch database may skip it.
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    db.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_database: str | None
) -> str:
    """A migrated, empty database URL: a fresh SQLite file, or the run's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "contractflow.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    if pg_database is None:
        pytest.skip("CONTRACTFLOW_TEST_DATABASE_URL is not set")
    _truncate_all(pg_database)
    return pg_database


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / "data")


@pytest.fixture
def rt(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    """The product wired to a fresh database, with roles seeded (as `init` leaves it)."""
    from engine.services.users import seed_roles

    runtime = Runtime(settings, clock=clock)
    with runtime.db.transaction() as session:
        seed_roles(session)
    yield runtime
    runtime.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show how many tests ran on each database, so a silent PostgreSQL skip is visible."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            for backend in ("sqlite", "postgresql"):
                if f"[{backend}" in nodeid or f"-{backend}]" in nodeid or f"-{backend}-" in nodeid:
                    counts.setdefault(backend, {}).setdefault(outcome, 0)
                    counts[backend][outcome] += 1
    if counts:
        terminalreporter.section("tests per database")
        for backend, by in sorted(counts.items()):
            parts = ", ".join(f"{n} {k}" for k, n in sorted(by.items()))
            terminalreporter.write_line(f"{backend}: {parts}")
