"""The contract list (issue 15) on PostgreSQL: filters, search, sorts and deep pages.

    python -m bench contract_list          (CONTRACTFLOW_BENCH_LIST_CONTRACTS, default 1,000,000)

Builds a scratch database (`cf_bench_list_*`, dropped afterwards) by the real `initialise`
and `add_user`, then N contracts set-based in one `INSERT ... SELECT` over
`generate_series` (200 owners, every stage of the standard workflow, the four statuses,
all severities, amounts over five orders of magnitude, counterparties and titles in
Chinese and English, `updated_at` spread over ten years) and an open task for one
contract in ten (half legal review, half signing) so a reviewer's visibility rule
(`access.visible_contracts`) has rows to find. Each case runs the real
`engine.services.contract_list.contract_list` (a page of 50 fetched as 51) through a
Runtime, 40 times after 3 warm-ups; the baseline in the same run is the same call with
no filters (default sort) and a plain `SELECT count(*) FROM contracts`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from typing import Any

from bench.dataset import ADMIN_URL, _admin, _pg_drop, _pg_url
from bench.measure import load, percentile
from engine.services.auth import Principal
from engine.services.contract_list import checked_filter, contract_list
from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.services.users import add_user
from engine.settings import Settings

OWNERS = 200
RUNS = 40
STAGES = ("drafting", "legal_review", "finance_review", "signing", "fulfilment", "closed")

CASES: list[tuple[str, str, dict[str, str | None], int]] = [
    # (label, who, filters, offset)
    ("baseline: no filters, newest first", "admin", {}, 0),
    ("stage + min severity", "admin", {"stage": "legal_review", "min_severity": "high"}, 0),
    (
        "status active + min severity critical",
        "admin",
        {"status": "active", "min_severity": "critical"},
        0,
    ),
    ("search text (latin, rare)", "admin", {"search": "pump-123457"}, 0),
    ("search text (Chinese)", "admin", {"search": "华东机械"}, 0),
    ("search contract id", "admin", {"search": "LC-2023-0123456"}, 0),
    ("counterparty", "admin", {"counterparty": "Jiangsu Precision 42"}, 0),
    ("owner", "admin", {"owner": "owner17"}, 0),
    ("sorted by amount (desc)", "admin", {"sort": "-amount"}, 0),
    ("sorted by amount, status active", "admin", {"sort": "-amount", "status": "active"}, 0),
    ("deep page (offset 10,000)", "admin", {}, 10_000),
    ("reviewer (legal): visible only", "lena", {}, 0),
    ("reviewer (legal) + search", "lena", {"search": "pump"}, 0),
]


def _generate(rt: Runtime, contracts: int) -> None:
    raw: Any = rt.db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT id FROM workflow_definitions WHERE name = 'standard' LIMIT 1")
        (workflow_id,) = cur.fetchone()
        cur.execute("SELECT min(id) FROM users WHERE username LIKE 'owner%'")
        (first_owner,) = cur.fetchone()
        stages = "ARRAY[" + ",".join(f"'{s}'" for s in STAGES) + "]"
        cur.execute(
            "INSERT INTO contracts (code, title, direction, counterparty_name, currency, amount, "
            "amount_base, start_date, end_date, owner_id, submitted_by_id, workflow_id, stage, "
            "status, current_revision, max_severity, created_at, updated_at, audit_seq, "
            "audit_head, version) "
            "SELECT 'LC-' || (2017 + g %% 10) || '-' || lpad(g::text, 7, '0'), "
            "CASE WHEN g %% 3 = 0 THEN '离心泵采购合同 第' || g || '号' "
            "     ELSE 'Supply of pumps, lot pump-' || g END, "
            "CASE WHEN g %% 2 = 0 THEN 'sell' ELSE 'buy' END, "
            "CASE WHEN g %% 4 = 0 THEN '华东机械有限公司 ' || (g %% 5000) "
            "     ELSE 'Jiangsu Precision ' || (g %% 5000) || ' Co., Ltd.' END, "
            "CASE WHEN g %% 10 = 0 THEN 'USD' ELSE 'CNY' END, "
            "1000 + (g::bigint * 7919) %% 9999000, 1000 + (g::bigint * 7919) %% 9999000, "
            "DATE '2017-01-01' + (g %% 3650), DATE '2018-01-01' + (g %% 3650), "
            "%s + (g %% %s), %s + (g %% %s), %s, "
            f"({stages})[1 + g %% {len(STAGES)}], "
            "CASE WHEN g %% 10 < 7 THEN 'active' WHEN g %% 10 < 9 THEN 'closed' "
            "     WHEN g %% 20 = 9 THEN 'withdrawn' ELSE 'terminated' END, 1, "
            "(ARRAY['none','none','low','low','medium','high','critical'])[1 + (g * 31) %% 7], "
            "TIMESTAMPTZ '2017-01-01' + (g::bigint * 311 %% 315360000) * INTERVAL '1 second', "
            "TIMESTAMPTZ '2017-01-01' + (g::bigint * 317 %% 315360000) * INTERVAL '1 second', "
            "0, '', 1 FROM generate_series(1::bigint, %s) g",
            (first_owner, OWNERS, first_owner, OWNERS, workflow_id, contracts),
        )
        # One contract in ten waits on an open task: half legal review, half signing.
        cur.execute(
            "INSERT INTO tasks (contract_id, revision, stage, role, approvals_required, status, "
            "created_at, version) SELECT id, 1, "
            "CASE WHEN id % 20 = 0 THEN 'legal_review' ELSE 'signing' END, "
            "CASE WHEN id % 20 = 0 THEN 'legal' ELSE 'signer' END, 1, 'open', now(), 1 "
            "FROM contracts WHERE id % 10 = 0"
        )
        raw.commit()
        raw.driver_connection.autocommit = True
        cur = raw.driver_connection.cursor()
        cur.execute("VACUUM ANALYZE contracts")
        cur.execute("VACUUM ANALYZE tasks")
    finally:
        raw.close()


def _principal(rt: Runtime, username: str) -> Principal:
    from engine.services.access import acting_principal

    return acting_principal(rt, username)


def _time(fn: Any, runs: int) -> list[float]:
    for _ in range(3):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def run_bench(contracts: int, runs: int = RUNS) -> dict[str, Any]:
    name = f"cf_bench_list_{uuid.uuid4().hex[:8]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    rt = Runtime(Settings(database_url=_pg_url(name), risk_backend="python"))
    try:
        initialise(rt)
        for i in range(OWNERS):
            add_user(rt, f"owner{i}", ["contract_admin"], email=f"owner{i}@example.com")
        add_user(rt, "admin", ["admin"], email="admin@example.com")
        add_user(rt, "lena", ["legal"], email="lena@example.com")
        t = time.perf_counter()
        _generate(rt, contracts)
        build = time.perf_counter() - t
        people = {u: _principal(rt, u) for u in ("admin", "lena")}
        rows: list[dict[str, Any]] = []
        base_p95 = None
        for label, who, filters, offset in CASES:
            f = checked_filter(rt, **filters)
            found: list[Any] = []

            def call(f: Any = f, who: str = who, offset: int = offset, out: Any = found) -> None:
                out[:] = contract_list(rt, people[who], f, limit=51, offset=offset)

            times = _time(call, runs)
            p95 = percentile(times, 95)
            if base_p95 is None:
                base_p95 = p95
            rows.append(
                {
                    "case": label,
                    "rows": len(found),
                    "p50_ms": round(percentile(times, 50), 1),
                    "p95_ms": round(p95, 1),
                    "vs_baseline": round(p95 / base_p95, 2) if base_p95 else None,
                }
            )

        def count() -> None:
            with rt.db.reads() as session:
                session.execute(__import__("sqlalchemy").text("SELECT count(*) FROM contracts"))

        times = _time(count, 10)
        rows.append(
            {
                "case": "baseline: SELECT count(*) FROM contracts",
                "rows": 1,
                "p50_ms": round(percentile(times, 50), 1),
                "p95_ms": round(percentile(times, 95), 1),
                "vs_baseline": round(percentile(times, 95) / base_p95, 2) if base_p95 else None,
            }
        )
        return {
            "contracts": contracts,
            "build_seconds": round(build, 1),
            "runs_per_case": runs,
            "cases": rows,
            "load": load(),
            "date": dt.date.today().isoformat(),
            "database": ADMIN_URL.rsplit("@", 1)[-1],
        }
    finally:
        rt.close()
        _pg_drop(name)


def markdown(data: dict[str, Any]) -> str:
    lines = [
        "## Contract list (issue 15)",
        "",
        f"{data['contracts']:,} contracts on PostgreSQL ({data['database']}), built in "
        f"{data['build_seconds']} s; {data['runs_per_case']} runs per case after 3 warm-ups, "
        f"a page of 50 through `engine.services.contract_list.contract_list`; load "
        f"{data['load']}; {data['date']}. Target: p95 under 50 ms. Ratios are p95 over the "
        "unfiltered list's p95 in the same run.",
        "",
        "| case | rows | p50 ms | p95 ms | p95 vs baseline |",
        "|---|---|---|---|---|",
    ]
    for r in data["cases"]:
        lines.append(
            f"| {r['case']} | {r['rows']} | {r['p50_ms']} | {r['p95_ms']} | {r['vs_baseline']}x |"
        )
    return "\n".join(lines) + "\n"


def run() -> str:
    quick = os.environ.get("CONTRACTFLOW_BENCH_QUICK", "") not in ("", "0")
    contracts = int(
        os.environ.get("CONTRACTFLOW_BENCH_LIST_CONTRACTS", 5_000 if quick else 1_000_000)
    )
    return markdown(run_bench(contracts, 5 if quick else RUNS))


if __name__ == "__main__":
    data = run_bench(int(os.environ.get("CONTRACTFLOW_BENCH_LIST_CONTRACTS", 1_000_000)))
    print(json.dumps(data, indent=2))
    print(markdown(data))
