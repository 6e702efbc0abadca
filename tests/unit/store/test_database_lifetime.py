"""A Database that is no longer used is freed with its engine: nothing process-wide keeps it.

A long-running process (the web app's tests, a worker that opens a database per job) would
otherwise keep every engine, its pool and its compiled-statement cache for good."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from sqlalchemy import text

from engine.store.db import Database


def test_a_dropped_database_frees_its_engine_even_after_commits(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'a.db'}")
    woken: list[int] = []
    database.on_outbox_commit(lambda: woken.append(1))
    with database.transaction() as session:
        session.execute(text("select 1"))
        session.info["outbox_written"] = True
    with database.reads() as session:
        session.execute(text("select 1"))
    assert woken == [1] and database.outbox_commits == 1  # the listener still works
    engine = weakref.ref(database.engine)
    ref = weakref.ref(database)
    database.dispose()
    del database, session
    gc.collect()
    assert ref() is None and engine() is None


def test_each_database_counts_only_its_own_outbox_commits(tmp_path: Path) -> None:
    first = Database(f"sqlite:///{tmp_path / 'a.db'}")
    second = Database(f"sqlite:///{tmp_path / 'b.db'}")
    with first.transaction() as session:
        session.info["outbox_written"] = True
    with second.transaction() as session:
        session.execute(text("select 1"))
    assert (first.outbox_commits, second.outbox_commits) == (1, 0)
