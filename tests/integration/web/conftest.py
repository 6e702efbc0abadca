"""Fixtures for the web app: the product on a fresh database, an app, an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.settings import Settings
from engine.web.app import create_app
from tests.integration.web.support import add_people


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The plain-Python risk backend: same rules, no worker processes to start per test."""
    return Settings(database_url=db_url, data_dir=tmp_path / "data", risk_backend="python")


@pytest.fixture
def web_rt(rt: Runtime) -> Runtime:
    """`contractflow init` done (workflows and rules loaded) and one user per role."""
    initialise(rt)
    add_people(rt)
    _ = rt.evaluator  # load the rules outside any transaction (as the app does at start-up)
    return rt


@pytest.fixture
def client(web_rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(web_rt)) as c:
        yield c
