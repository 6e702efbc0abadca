"""Schema creation and upgrades through Alembic (safe to run again and again)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.store.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(db: Database, audit_key: Callable[[], bytes] | None = None) -> str:
    """Bring the schema to the newest revision; returns that revision id.

    `audit_key` gives the audit trail's key to the migration that re-keys existing
    chains (0004); it is called only when there are events to re-key."""
    cfg = _config()
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        cfg.attributes["audit_key"] = audit_key
        command.upgrade(cfg, "head")
    return head_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
