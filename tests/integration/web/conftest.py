"""Fixtures for the web app: the product on a fresh database, an app, an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.web.app import create_app
from tests.integration.web.support import add_people


@pytest.fixture
def web_rt(rt: Runtime) -> Runtime:
    """`contractflow init` done (workflows and rules loaded) and one user per role."""
    initialise(rt)
    add_people(rt)
    return rt


@pytest.fixture
def client(web_rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(web_rt)) as c:
        yield c
