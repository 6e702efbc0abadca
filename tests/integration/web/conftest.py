"""Fixtures for the web app: the product on a fresh database, an app, an HTTP client.

On SQLite every test starts from a copy of one file that `init` and the test users were
applied to once per run (initialising costs more than most web tests); on PostgreSQL the
run's database is emptied and initialised per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.settings import Settings
from engine.web.app import create_app
from tests.conftest import BACKENDS, _truncate_all
from tests.integration.web.support import add_people


def _prepare(rt: Runtime) -> None:
    initialise(rt)
    add_people(rt)


@pytest.fixture(scope="session")
def web_sqlite_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web-template")
    path = folder / "web.db"
    shutil.copy(sqlite_template, path)
    rt = Runtime(
        Settings(database_url=f"sqlite:///{path}", data_dir=folder / "data", risk_backend="python")
    )
    _prepare(rt)
    rt.close()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def web_sqlite_url(tmp_path: Path, web_sqlite_template: Path) -> str:
    path = tmp_path / "contractflow.db"
    shutil.copy(web_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_database: str | None) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("web_sqlite_url"))
    if pg_database is None:
        pytest.skip("CONTRACTFLOW_TEST_DATABASE_URL is not set")
    _truncate_all(pg_database)
    return pg_database


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The plain-Python risk backend: same rules, no worker processes to start per test."""
    return Settings(database_url=db_url, data_dir=tmp_path / "data", risk_backend="python")


@pytest.fixture
def web_rt(rt: Runtime) -> Runtime:
    """`contractflow init` done (workflows and rules loaded) and one user per role."""
    if rt.db.dialect != "sqlite":  # the SQLite copy has them already
        _prepare(rt)
    rt.evaluator  # noqa: B018 - load the rules outside any transaction, as the app does
    return rt


@pytest.fixture
def client(web_rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(web_rt)) as c:
        yield c
