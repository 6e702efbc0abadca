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
    cfg.attributes["audit_key"] = audit_key
    if db.dialect == "sqlite":
        _migrate_sqlite(db, cfg)
        return head_revision()
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    return head_revision()


def downgrade(db: Database, revision: str) -> None:
    """Take the schema back to `revision` (tests and operators undoing an upgrade); on
    SQLite with foreign keys off while the tables are copied, as for `upgrade`."""
    cfg = _config()
    if db.dialect == "sqlite":
        _migrate_sqlite(db, cfg, lambda: command.downgrade(cfg, revision))
        return
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def _migrate_sqlite(db: Database, cfg: Config, run: Callable[[], None] | None = None) -> None:
    """SQLite changes a CHECK constraint by copying the table (Alembic's batch mode) and
    dropping the old one; with foreign keys enforced, dropping `contracts` would cascade
    into every table that references it. So foreign keys are off while the migrations run
    (the pragma works only outside a transaction) and checked before the commit."""
    with db.engine.connect() as connection:
        raw = connection.connection.dbapi_connection  # outside SQLAlchemy's autobegin
        assert raw is not None
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                if run is None:
                    command.upgrade(cfg, "head")
                else:
                    run()
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
