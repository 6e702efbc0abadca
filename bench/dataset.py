"""Benchmark databases with N contracts "already stored", built fast and cached.

How the rows are made: a fresh database is set up by the real `initialise` (migrations,
roles, the shipped workflows and rules) and the real `add_user`; then `SEEDS` contracts
are driven through the real services (submit, approve, request changes, fulfil
obligations) into a realistic mix of stages - mostly closed, some in fulfilment, some
back in drafting, and 10% waiting on an open task (half legal review, half signing).
Every row those services wrote (contracts, revisions, guarantees, obligations, risk
evaluations and flags, tasks, approvals, audit events) is then copied set-based
(`INSERT ... SELECT` over `generate_series` on PostgreSQL, a recursive CTE on SQLite)
until the database holds N contracts. Copies get fresh ids, their own codes
(`SC-2017-0021` ...: the format submit assigns, spread over ten years, a tenth of
them this year), the code
inside their stored terms, and timestamps shifted back by up to a year.

So 1,000,000 contracts hold about 1,000,000 revisions, 100,000 open tasks, ~5 million
audit events and the indexes the product declares, as the services would have written
them. Two things are knowingly not real: the copied audit events keep the hash values of
their seed, so `contractflow audit verify` would report the copies' chains as broken (the
benchmarks never verify them; new events chain onto them as usual); and the copies have
no stored .docx in `documents` (the seeds do): at 13-14 KB of zip per revision,
1,000,000 of them would add ~14 GB to every copy, and no measured path reads another
contract's document.

Generation runs once per size and schema: on PostgreSQL into a template database
`cf_bench_tpl_<N>_<checksum>` that each run clones with `CREATE DATABASE ... TEMPLATE`
(seconds), on SQLite into a cached file that each run copies. The checksum covers the
tables and columns the models declare, the shipped workflows and rules, the example
contracts and this generator's version, so a change of what the rows hold regenerates. Only databases named `cf_bench_*` are ever created or dropped.

Indexes are not part of the key: a change that only adds, drops or alters an index (the
usual tuning step) is applied to the cached database in place (`sync_indexes`) instead
of regenerating it, which would cost 25 minutes at 1,000,000 contracts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from engine.settings import PROJECT_ROOT, Settings

ADMIN_URL = os.environ.get(
    "CONTRACTFLOW_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
CACHE_DIR = Path(
    os.environ.get("CONTRACTFLOW_BENCH_CACHE", Path.home() / ".cache" / "contractflow-bench")
)
PASSWORD = "bench-pass-2026"
#: The audit trail's key for benchmark databases (not a secret: the data is generated).
#: Fixed, so a cached database stays writable from any checkout's data folder - the
#: product refuses to sign a trail with a key other than the one it was signed with.
os.environ.setdefault("CONTRACTFLOW_AUDIT_KEY", "bench-audit-key-" + "0" * 48)
SEEDS = 20
#: Bump when the generator changes what it writes (part of the cache key).
GENERATOR_VERSION = "2"

#: role -> benchmark users holding it (one per concurrent worker and then some).
USERS: dict[str, list[str]] = {
    "contract_admin": [f"ca{i}" for i in range(1, 9)],
    "legal": [f"legal{i}" for i in range(1, 9)],
    "legal_lead": ["lead1"],
    "finance": [f"fin{i}" for i in range(1, 9)],
    "risk_officer": [f"risk{i}" for i in range(1, 9)],
    "signer": [f"signer{i}" for i in range(1, 9)],
    "procurement": [f"proc{i}" for i in range(1, 5)],
    "contract_manager": ["mgr1"],
    "admin": ["root"],
}
#: users who get a password (for signing in to the web app; argon2 makes each cost ~0.1 s).
WITH_PASSWORD = {"legal1", "legal2", "signer1", "mgr1"}

#: Tables the services write per contract, parents first, and the id columns they point at.
CLONED = [
    "contracts",
    "contract_revisions",
    "guarantees",
    "obligations",
    "risk_evaluations",
    "risk_flags",
    "tasks",
    "approvals",
    "audit_events",
]
#: Seed plan: index -> the stage the seed is driven to (the rest end closed).
SEED_TARGETS = {
    0: "legal_review",  # one open legal task
    1: "signing",  # one open signer task
    2: "drafting",  # changes requested, waiting for a revision
    3: "fulfilment",
    4: "fulfilment",
    5: "fulfilment",
}
TEMPLATES = ["SC-2026-0060.json", "SC-2026-0042.yaml", "PO-2026-0107.yaml", "SC-2026-0051.yaml"]


def log(message: str) -> None:
    sys.stderr.write(f"[bench {dt.datetime.now():%H:%M:%S}] {message}\n")
    sys.stderr.flush()


def schema_checksum() -> str:
    """Changes when anything that shapes the generated rows changes (not their indexes)."""
    from engine.store.models import Base

    digest = hashlib.sha256(GENERATOR_VERSION.encode())
    for table in sorted(Base.metadata.tables.values(), key=lambda t: t.name):
        digest.update(table.name.encode())
        for column in table.columns:
            digest.update(f"{column.name}:{column.type!r}:{column.nullable}".encode())
    parts = [
        *sorted((PROJECT_ROOT / "config" / "workflows").glob("*.y*ml")),
        *sorted((PROJECT_ROOT / "rules").rglob("*.y*ml")),
        *(PROJECT_ROOT / "examples" / t for t in TEMPLATES),
    ]
    for path in parts:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _index_signature(index: Any, dialect: Any) -> str:
    from sqlalchemy.schema import CreateIndex

    return str(CreateIndex(index).compile(dialect=dialect))


def sync_indexes(url: str) -> None:
    """Make the cached database's indexes those the models declare now.

    Creates the missing ones and drops (and recreates) those whose definition changed or
    that the models no longer declare, so a run measures the indexes of this checkout.
    """
    from sqlalchemy import inspect

    from engine.store.models import Base

    engine = _engine(url)
    try:
        with engine.begin() as conn:
            inspector = inspect(conn)
            wanted = {
                str(index.name): index
                for table in Base.metadata.tables.values()
                for index in table.indexes
            }
            existing: dict[str, str] = {}
            for table in Base.metadata.tables.values():
                for info in inspector.get_indexes(table.name):
                    if info["name"] and not info.get("duplicates_constraint"):
                        existing[info["name"]] = table.name
            stored_sql = _stored_index_sql(conn, engine.dialect.name)
            for name in sorted(set(existing) - set(wanted)):
                log(f"dropping index {name} (no longer declared)")
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
            for name, index in sorted(wanted.items(), key=lambda item: item[0]):
                create_sql = _index_signature(index, engine.dialect)
                if name in existing and _same_index(stored_sql.get(name, ""), create_sql):
                    continue
                if name in existing:
                    log(f"recreating index {name} (its definition changed)")
                    conn.exec_driver_sql(f'DROP INDEX "{name}"')
                else:
                    log(f"creating index {name}")
                started = time.perf_counter()
                conn.exec_driver_sql(create_sql)
                log(f"  {name}: {time.perf_counter() - started:.1f} s")
    finally:
        engine.dispose()


def _stored_index_sql(conn: Any, dialect: str) -> dict[str, str]:
    if dialect == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        )
    else:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    return {name: sql or "" for name, sql in rows}


def _same_index(stored: str, created: str) -> bool:
    """Compare a stored index definition with the DDL the models compile to, loosely:
    PostgreSQL rewrites the text (`USING btree`, casts, brackets), so compare the words
    that matter - columns in order and the predicate's identifiers."""
    import re

    def words(sql: str) -> list[str]:
        sql = re.sub(r"USING btree|public\.|::[a-z ]+|ON ONLY", " ", sql, flags=re.I)
        return [w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|'[^']*'", sql)]

    noise = {"create", "unique", "index", "on", "if", "not", "exists", "character", "varying"}
    return [w for w in words(stored) if w not in noise] == [
        w for w in words(created) if w not in noise
    ]


@dataclass
class BenchDatabase:
    """A working database for one benchmark run (a fresh copy of the cached one)."""

    kind: str  # "sqlite" | "postgresql"
    url: str
    contracts: int
    generated_seconds: float | None  # None when it came from the cache
    copy_seconds: float
    users: dict[str, list[str]] = field(default_factory=lambda: USERS)
    _cleanup: list[Any] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        return Settings(database_url=self.url, **overrides)

    def drop(self) -> None:
        for undo in self._cleanup:
            undo()
        self._cleanup.clear()


# --------------------------------------------------------------------------- seeding


def _runtime(url: str) -> Any:
    from engine.services.runtime import Runtime

    # Seeding scores with the plain-Python backend: the same rules, the same flags (the
    # rules issue tests that both backends agree), no worker processes to start.
    # No task emails: the generator copies contracts, not outbox rows.
    return Runtime(Settings(database_url=url, risk_backend="python", task_emails=False))


def _draft(index: int, workdir: Path) -> Path:
    """The index-th seed's draft: an example contract without its id (a code is assigned)."""
    import json

    from engine.definitions.contracts import load_contract_file

    source = PROJECT_ROOT / "examples" / TEMPLATES[0 if index in (0, 1) else index % 4]
    data = load_contract_file(source).model_dump(mode="json", exclude_none=True)
    data.pop("id", None)
    data["title"] = f"{data['title']} (lot {index + 1})"
    data["owner"] = USERS["contract_admin"][index % 4]
    path = workdir / f"seed-{index}.json"
    path.write_text(json.dumps(data, indent=1))
    return path


def _approver(role: str, exclude: set[str], turn: int) -> str:
    people = [u for u in USERS[role] if u not in exclude]
    return people[turn % len(people)]


def drive(rt: Any, code: str, target: str, turn: int) -> None:
    """Approve every open task (as different users of its role) and fulfil obligations
    until `code` reaches `target` (or closes). Uses the real services only."""
    from engine.services.lifecycle import act, fulfil_obligation
    from engine.services.views import show

    for _ in range(40):
        view = show(rt, code)
        if view.stage == target or view.status == "closed":
            return
        if view.stage == "drafting" and target == "drafting":
            return
        open_tasks = [t for t in view.tasks if t.status == "open"]
        if view.stage == "legal_review" and target == "drafting":
            act(rt, open_tasks[0].id, "request_changes", "legal3", "payment terms: see note")
            continue
        if open_tasks:
            for task in open_tasks:
                who = _approver(task.role, {view.submitted_by}, turn)
                act(rt, task.id, "approve", who, f"{task.role} ok")
            continue
        pending = [o for o in view.obligations if o.status == "open"]
        if view.stage == "fulfilment" and pending:
            for ob in pending:
                fulfil_obligation(rt, code, ob.id, view.owner)
            continue
        raise RuntimeError(f"seed {code} is stuck in {view.stage}")
    raise RuntimeError(f"seed {code} did not reach {target}")


def seed(url: str) -> None:
    """initialise + users + SEEDS contracts driven by the real services."""
    from engine.services.lifecycle import submit
    from engine.services.setup import initialise
    from engine.services.users import add_user

    rt = _runtime(url)
    try:
        initialise(rt)
        for role, names in USERS.items():
            for name in names:
                add_user(
                    rt,
                    name,
                    [role],
                    email=f"{name}@bench.example.com",
                    password=PASSWORD if name in WITH_PASSWORD else None,
                )
        with tempfile.TemporaryDirectory() as tmp:
            for index in range(SEEDS):
                path = _draft(index, Path(tmp))
                submitter = USERS["contract_admin"][index % 4]
                view = submit(rt, path, submitter)
                target = SEED_TARGETS.get(index, "closed")
                if target != "legal_review":
                    drive(rt, view.id, target, index)
    finally:
        rt.close()


# --------------------------------------------------------------------------- cloning


def _columns(table: str) -> list[tuple[str, Any]]:
    from engine.store.models import Base

    return [(c.name, c) for c in Base.metadata.tables[table].columns]


def _select_list(table: str, dialect: str, spans: dict[str, int]) -> tuple[str, str]:
    """(column list, expressions over `t` and the copy number `g.i`) for one table."""
    from engine.store.models import UTCDateTime

    names, exprs = [], []
    for name, col in _columns(table):
        names.append(name)
        fk_targets = {fk.column.table.name for fk in col.foreign_keys}
        target = next((t for t in fk_targets if t in spans), None)
        if name == "id" and col.primary_key:
            exprs.append(f"t.id + g.i * {spans[table]}")
        elif target is not None:
            exprs.append(f"t.{name} + g.i * {spans[target]}")
        elif table == "contracts" and name == "code":
            exprs.append(_code_expr(dialect, spans["contracts"]))
        elif table == "contract_revisions" and name == "terms":
            code = _code_expr(dialect, spans["contracts"], "c")
            if dialect == "postgresql":
                exprs.append(f"jsonb_set(t.terms::jsonb, '{{id}}', to_jsonb({code}))::json")
            else:
                exprs.append(f"json_set(t.terms, '$.id', {code})")
        elif isinstance(col.type, UTCDateTime):
            if dialect == "postgresql":
                exprs.append(f"t.{name} - (g.i % 365) * interval '1 day'")
            else:
                exprs.append(
                    f"datetime(t.{name}, '-' || (g.i % 365) || ' days') || substr(t.{name}, 20)"
                )
        else:
            exprs.append(f"t.{name}")
    return ", ".join(names), ", ".join(exprs)


def _code_expr(dialect: str, span: int, alias: str = "t") -> str:
    """SC-<year>-<the new id, at least 4 digits>: the format `submit` assigns (SC-2026-0042,
    SC-2026-123456), years 2017..2026 in turn. Numbers are unique across years, so each
    year's numbers have gaps; the highest of the current year is what `submit` continues."""
    new_id = f"({alias}.id + g.i * {span})"
    if dialect == "postgresql":
        return (
            f"left({alias}.code, 3) || (2017 + g.i % 10)::text || '-' || "
            f"lpad({new_id}::text, greatest(4, length({new_id}::text)), '0')"
        )
    return f"substr({alias}.code, 1, 3) || (2017 + g.i % 10) || '-' || printf('%04d', {new_id})"


def clone(engine: Engine, copies: int, chunk: int = 2_000) -> None:
    """Add `copies` copies of every seeded contract (with all its rows), set-based."""
    dialect = engine.dialect.name
    with engine.begin() as conn:
        spans = {t: int(conn.scalar(text(f"SELECT max(id) FROM {t}")) or 0) for t in CLONED}
        stray = conn.scalar(text("SELECT count(*) FROM outbox")) or 0
        if stray:
            raise RuntimeError("seeding wrote outbox rows; the generator does not copy them")
    done = 0
    started = time.perf_counter()
    while done < copies:
        lo, hi = done + 1, min(done + chunk, copies)
        with engine.begin() as conn:
            if dialect == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in CLONED:
                cols, exprs = _select_list(table, dialect, spans)
                if dialect == "postgresql":
                    series = f"generate_series({lo}, {hi}) AS g(i)"
                    prefix = ""
                else:
                    prefix = (
                        f"WITH RECURSIVE g(i) AS (SELECT {lo} UNION ALL "
                        f"SELECT i + 1 FROM g WHERE i < {hi}) "
                    )
                    series = "g"
                join = (
                    " JOIN contracts c ON c.id = t.contract_id"
                    if table == "contract_revisions"
                    else ""
                )
                conn.execute(
                    text(
                        f"{prefix}INSERT INTO {table} ({cols}) SELECT {exprs} "
                        f"FROM {table} t{join} CROSS JOIN {series} WHERE t.id <= {spans[table]}"
                    )
                )
        done = hi
        rate = done * SEEDS / max(time.perf_counter() - started, 1e-9)
        log(f"  {(done + 1) * SEEDS:>9,} contracts ({rate:,.0f} contracts/s)")
    with engine.begin() as conn:
        # Id counters as `submit` would have left them: the highest number per prefix.
        conn.execute(text("DELETE FROM contract_counters"))
        conn.execute(
            text(
                "INSERT INTO contract_counters (prefix, last) "
                "SELECT substr(code, 1, 8), max(CAST(substr(code, 9) AS INTEGER)) "
                "FROM contracts GROUP BY substr(code, 1, 8)"
            )
        )
        if dialect == "postgresql":
            for table in CLONED:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))


# --------------------------------------------------------------------------- databases


def _pg_url(name: str) -> str:
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _admin() -> Iterator[Any]:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        yield conn


def _pg_exists(conn: Any, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    )


def _pg_drop(name: str) -> None:
    assert name.startswith("cf_bench_"), name  # never anyone else's database
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _engine(url: str) -> Engine:
    from engine.store.db import normalise_url

    return create_engine(normalise_url(url))


def _generate(url: str, contracts: int) -> None:
    copies = max(contracts // SEEDS - 1, 0)
    log(f"seeding {SEEDS} contracts through the services ...")
    seed(url)
    log(f"copying them {copies:,} times ...")
    engine = _engine(url)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    try:
        clone(engine, copies)
    finally:
        engine.dispose()


def _prepare_postgresql(contracts: int, run_name: str) -> BenchDatabase:
    template = f"cf_bench_tpl_{contracts}_{schema_checksum()}"
    generated: float | None = None
    with _admin() as conn:
        ready = _pg_exists(conn, template) and conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (template,),
        ).fetchone() == ("complete",)
        stale = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'cf\\_bench\\_tpl\\_%%'"
            )
            if r[0].startswith(f"cf_bench_tpl_{contracts}_") and r[0] != template
        ]
    for name in stale:
        log(f"dropping {name} (made for another schema)")
        _pg_drop(name)
    if not ready:
        _pg_drop(template)
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{template}"')
        log(f"generating {contracts:,} contracts into {template}")
        started = time.perf_counter()
        _generate(_pg_url(template), contracts)
        generated = time.perf_counter() - started
        with _admin() as conn:
            conn.execute(f"COMMENT ON DATABASE \"{template}\" IS 'complete'")
        log(f"generated in {generated:.0f} s")
    sync_indexes(_pg_url(template))
    _pg_drop(run_name)
    started = time.perf_counter()
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{run_name}" TEMPLATE "{template}"')
    copied = time.perf_counter() - started
    db = BenchDatabase("postgresql", _pg_url(run_name), contracts, generated, copied)
    db._cleanup.append(lambda: _pg_drop(run_name))
    return db


def _prepare_sqlite(contracts: int) -> BenchDatabase:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = CACHE_DIR / f"sqlite_{contracts}_{schema_checksum()}.db"
    generated: float | None = None
    for old in CACHE_DIR.glob(f"sqlite_{contracts}_*.db"):
        if old != cached:
            old.unlink()
    if not cached.exists():
        partial = cached.with_suffix(".partial")
        for leftover in CACHE_DIR.glob(partial.name + "*"):
            leftover.unlink()
        log(f"generating {contracts:,} contracts into {cached}")
        started = time.perf_counter()
        _generate(f"sqlite:///{partial}", contracts)
        engine = _engine(f"sqlite:///{partial}")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
        engine.dispose()
        partial.rename(cached)
        generated = time.perf_counter() - started
        log(f"generated in {generated:.0f} s")
    sync_indexes(f"sqlite:///{cached}")
    workdir = Path(tempfile.mkdtemp(prefix="cf_bench_"))
    target = workdir / "bench.db"
    started = time.perf_counter()
    shutil.copyfile(cached, target)
    copied = time.perf_counter() - started
    db = BenchDatabase("sqlite", f"sqlite:///{target}", contracts, generated, copied)
    db._cleanup.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    return db


@contextmanager
def _generation_lock() -> Iterator[None]:
    """One generator at a time on this machine (two runs would write the same cache)."""
    import fcntl

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare(kind: str, contracts: int, run_name: str = "cf_bench_run") -> BenchDatabase:
    """A fresh working database of `kind` holding `contracts` contracts (see module doc)."""
    if contracts < SEEDS or contracts % SEEDS:
        raise ValueError(f"contracts must be a multiple of {SEEDS}")
    with _generation_lock():
        if kind == "postgresql":
            return _prepare_postgresql(contracts, run_name)
        if kind == "sqlite":
            return _prepare_sqlite(contracts)
    raise ValueError(kind)


HOW_TO_RUN = (
    "Run: `python -m bench workflow web` (`make bench` runs every benchmark); "
    "`python -m bench --quick workflow web` or `CONTRACTFLOW_BENCH_QUICK=1` for small sizes "
    "that print without touching this page (about 2.5 minutes here once their small "
    "databases are cached). Settings: `CONTRACTFLOW_BENCH_SECONDS` "
    "(per phase), `CONTRACTFLOW_BENCH_RISK_BACKEND` (python | durable), "
    "`CONTRACTFLOW_BENCH_PG_ADMIN_URL`, `CONTRACTFLOW_BENCH_CACHE` (SQLite files). The "
    "databases are generated once per size and schema by `bench/dataset.py` (1,000,000 "
    "contracts: ~8-11 min on PostgreSQL, ~15 min on SQLite on this machine) and copied "
    "for each run."
)


def postgres_available() -> bool:
    try:
        with _admin():
            return True
    except Exception:
        return False


def quick() -> bool:
    """Small sizes that run in seconds: `CONTRACTFLOW_BENCH_QUICK=1` or `python -m bench --quick`."""
    return os.environ.get("CONTRACTFLOW_BENCH_QUICK", "") not in ("", "0")
