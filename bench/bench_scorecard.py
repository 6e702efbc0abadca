"""Scorecard for one year over 1,000,000 obligations on PostgreSQL (target: under 2 s).

The data is built in the database with `generate_series` (100,000 signed contracts of
200 owners in 10 teams, ten obligations each spread over two years, a submission and a
signing event each), not through the Python API: the point is the query, not the
loader. The baseline is `count(*)` of the same year's obligations, in the same run.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import text

from bench.dataset import _admin, _pg_drop, _pg_url, postgres_available, quick
from bench.measure import load, ratio, table
from bench.report import machine

NAME = "cf_bench_scorecard"


def _build(url: str, contracts: int) -> None:
    from engine.services.runtime import Runtime
    from engine.services.users import add_user
    from engine.services.workflows import load_shipped_workflows
    from engine.settings import Settings
    from engine.store import migrate
    from engine.store.db import Database

    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    rt = Runtime(Settings(database_url=url))
    try:
        load_shipped_workflows(rt)
        for i in range(200):
            add_user(rt, f"owner{i:03d}", ["contract_admin"], team=f"team{i % 10}")
        with rt.db.engine.begin() as conn:
            wid = conn.execute(
                text("SELECT id FROM workflow_definitions WHERE name = 'standard' ORDER BY version")
            ).scalar()
            owners = conn.execute(text("SELECT min(id), max(id) FROM users")).one()
            conn.execute(
                text(
                    "INSERT INTO contracts (code, title, direction, counterparty_name, currency,"
                    " amount, amount_base, start_date, end_date, owner_id, submitted_by_id,"
                    " workflow_id, stage, status, current_revision, max_severity, auto_renewal,"
                    " created_at, updated_at, audit_seq, audit_head, version)"
                    " SELECT 'BC-' || g, 'bench ' || g, 'sell', 'cp ' || (g % 1000), 'CNY',"
                    " 1000000, 1000000, DATE '2026-01-01', DATE '2027-12-31',"
                    " :lo + g % (:hi - :lo + 1), :lo + g % (:hi - :lo + 1), :wid, 'fulfilment',"
                    " 'active', 1, 'none', false, now(), now(), 2, '', 1"
                    " FROM generate_series(1, :n) g"
                ),
                {"lo": owners[0], "hi": owners[1], "wid": wid, "n": contracts},
            )
            conn.execute(
                text(
                    "INSERT INTO obligations (contract_id, oid, party, kind, description, due,"
                    " amount, status, fulfilled_on)"
                    " SELECT c.id, 'OB-' || k, 'counterparty', 'payment', '',"
                    " DATE '2026-01-01' + ((c.id * 7 + k * 73) % 730),"
                    " 100000, CASE WHEN (c.id + k) % 10 < 7 THEN 'fulfilled' ELSE 'open' END,"
                    " CASE WHEN (c.id + k) % 10 < 7 THEN DATE '2026-01-01'"
                    "  + ((c.id * 7 + k * 73) % 730) + ((c.id + k) % 5) - 2 END"
                    " FROM contracts c CROSS JOIN generate_series(1, 10) k"
                )
            )
            for seq, action, shift, frm, to in (
                (1, "submit", "0", "drafting", "legal_review"),
                (2, "approve", "(c.id % 20)", "signing", "fulfilment"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO audit_events (contract_id, seq, at, action, from_stage,"
                        " to_stage, details, prev_hash, hash)"
                        " SELECT c.id, :seq, TIMESTAMPTZ '2026-01-01 02:00+00'"
                        f" + ((c.id % 700) || ' days')::interval + ({shift} || ' days')::interval,"
                        " CAST(:action AS varchar), :frm, :to, '{}', '', md5(c.id::text || CAST(:action AS text))"
                        " FROM contracts c"
                    ),
                    {"seq": seq, "action": action, "frm": frm, "to": to},
                )
        with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        rt.close()


def run() -> str:
    if not postgres_available():
        return "## Scorecard\n\nPostgreSQL is not available: not measured.\n"
    contracts = 2_000 if quick() else 100_000
    _pg_drop(NAME)
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{NAME}"')
    url = _pg_url(NAME)
    try:
        started = time.perf_counter()
        _build(url, contracts)
        built = time.perf_counter() - started
        return _measure(url, contracts, built)
    finally:
        _pg_drop(NAME)


def _measure(url: str, contracts: int, built: float) -> str:
    from engine.services.runtime import Runtime
    from engine.services.scorecards import scorecard
    from engine.settings import Settings

    rt = Runtime(Settings(database_url=url))
    start, end = dt.date(2026, 7, 1), dt.date(2027, 6, 30)
    try:
        with rt.db.engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM obligations")).scalar()
        rows = []
        for by in ("owner", "team"):
            times, base = [], []
            for _ in range(3):
                t0 = time.perf_counter()
                with rt.db.engine.connect() as conn:
                    conn.execute(
                        text("SELECT count(*) FROM obligations WHERE due BETWEEN :a AND :b"),
                        {"a": start, "b": end},
                    ).scalar()
                base.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                card = scorecard(rt, None, by=by, start=start, end=end)  # type: ignore[arg-type]
                times.append(time.perf_counter() - t0)
            best, baseline = min(times), min(base)
            rows.append(
                (
                    f"scorecard --by {by}, one year",
                    f"{total:,}",
                    len(card.rows),
                    f"{best:.3f}",
                    f"{baseline:.3f}",
                    ratio(best, baseline),
                    "yes" if best < 2 else "NO",
                )
            )
    finally:
        rt.close()
    header = ["query", "obligations", "rows", "best of 3 (s)", "count(*) (s)", "ratio", "< 2 s"]
    return (
        "## Scorecard\n\n"
        f"{contracts:,} contracts built with generate_series in {built:.0f} s. "
        f"Machine: {machine()}; load {load()}; {dt.date.today()}.\n\n" + table(header, rows) + "\n"
    )
