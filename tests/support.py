"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import URL, create_engine, text
from sqlalchemy.engine import make_url

from engine.settings import PROJECT_ROOT
from engine.store.db import normalise_url

EXAMPLES = PROJECT_ROOT / "examples"
DATA = Path(__file__).parent / "data"


class FrozenClock:
    """A clock tests can move: `clock.now += dt.timedelta(days=3)`."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@contextmanager
def fresh_pg_database(server_url: str, prefix: str) -> Iterator[URL]:
    """A new, empty PostgreSQL database named `prefix` + a random suffix on the server of
    `server_url`; dropped afterwards, its sessions ended first (a test's leftover
    connection must not keep it alive)."""
    base = make_url(normalise_url(server_url))
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def skip_without_durable() -> None:
    """Skip the calling test or fixture where durable_rules cannot load (Python 3.13): the
    product runs the Python backend there (engine.risk.availability)."""
    import pytest

    from engine.risk.availability import durable_problem

    problem = durable_problem()
    if problem is not None:
        pytest.skip(f"durable_rules cannot load on this Python: {problem}")
