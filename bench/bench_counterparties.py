"""Counterparty register on PostgreSQL (issue 11): the exposure lookup's cost per submit,
re-scoring after a status change, `rules whatif` over the active portfolio.

    python -m bench.bench_counterparties [--contracts N] [--submits N]

Builds a scratch database (`cf_bench_cp_*`, dropped afterwards) with N active submitted
contracts over N/10 counterparties (one extra counterparty holds 1,000 of them), generated
set-based from one really submitted contract. Then:

- submit p50/p95, interleaved in blocks with a same-run baseline in which
  `engine.services.register.owed_by` returns no contracts (the submit without the exposure
  lookup: linking and locking the counterparty still happen in both);
- `counterparties set --status blocked` on the counterparty with 1,000 active contracts
  (re-score + warnings in one transaction);
- `rules whatif --param exposure_limit=500000` over every active contract.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from decimal import Decimal
from typing import Any

from bench.dataset import ADMIN_URL, _admin, _pg_drop, _pg_url, log, schema_checksum
from engine.definitions.contracts import load_contract_file
from engine.services import lifecycle, register
from engine.services.counterparties import set_counterparty
from engine.services.runtime import Runtime
from engine.services.setup import initialise
from engine.services.users import add_user
from engine.services.whatif import whatif
from engine.settings import PROJECT_ROOT, Settings

BIG = 1000


def _generate(rt: Runtime, contracts: int) -> None:
    """N contracts cloned from SC-T (submitted for real) in one INSERT ... SELECT each."""
    parties = max(1, contracts // 10)
    raw: Any = rt.db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "INSERT INTO counterparties (name, name_key, status, credit_limit, created_at, "
            "updated_at) SELECT 'Bench party ' || g, 'bench party ' || g, 'active', 50000000, "
            "now(), now() FROM generate_series(1, %s) g",
            (parties + 1,),
        )
        cur.execute("SELECT min(id), max(id) FROM counterparties WHERE name_key LIKE 'bench%%'")
        first, last = cur.fetchone()
        cols = (
            "title, direction, counterparty_name, currency, amount, amount_base, start_date, "
            "end_date, owner_id, submitted_by_id, workflow_id, stage, status, current_revision, "
            "max_severity, created_at, updated_at, audit_seq, audit_head, version"
        )
        # The last counterparty holds BIG contracts; the rest share the others evenly.
        cur.execute(
            f"INSERT INTO contracts (code, counterparty_id, {cols}) "
            f"SELECT 'BC-' || g, CASE WHEN g <= %s THEN %s ELSE %s + (g %% %s) END, {cols} "
            "FROM contracts c, generate_series(1, %s) g WHERE c.code = 'SC-T'",
            (BIG, last, first, parties, contracts),
        )
        cur.execute(
            "INSERT INTO contract_revisions (contract_id, number, terms, source_name, checksum, "
            "submitted_by_id, submitted_at) SELECT c.id, 1, r.terms, '', r.checksum, "
            "r.submitted_by_id, r.submitted_at FROM contracts c, contract_revisions r "
            "JOIN contracts t ON t.id = r.contract_id AND t.code = 'SC-T' "
            "WHERE c.code LIKE 'BC-%%'"
        )
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _timed_submits(
    rt: Runtime, n: int, start: int, parties: int, cpu: list[float] | None = None
) -> list[float]:
    base = load_contract_file(PROJECT_ROOT / "examples" / "SC-2026-0042.yaml")
    out = []
    for i in range(n):
        party = {"name": f"Bench party {1 + (start + i) * 7919 % parties}"}
        contract = base.model_copy(
            update={
                "id": f"SUB-{start + i}",
                "amount": Decimal(500000),
                "counterparty": base.counterparty.model_copy(update=party),
            }
        )
        t, c = time.perf_counter(), time.process_time()
        lifecycle.submit_contract(rt, contract, "alice")
        out.append((time.perf_counter() - t) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c) * 1000)
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _template(contracts: int) -> tuple[str, float | None]:
    """A template database with `contracts` generated contracts, built once per size and
    schema (`cf_bench_cptpl_<N>_<checksum>`, marked complete by a comment) and cloned by
    each run with CREATE DATABASE ... TEMPLATE: 1,000,000 contracts take minutes to build."""
    name = f"cf_bench_cptpl_{contracts}_{schema_checksum()}"
    with _admin() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if row == ("complete",):
        return name, None
    _pg_drop(name)
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    log(f"counterparties: generating {contracts:,} contracts into {name}")
    rt = Runtime(Settings(database_url=_pg_url(name), risk_backend="python"))
    try:
        initialise(rt)
        add_user(rt, "alice", ["contract_admin"], email="alice@example.com")
        add_user(rt, "rita", ["risk_officer"], email="rita@example.com")
        template = load_contract_file(PROJECT_ROOT / "examples" / "SC-2026-0042.yaml")
        lifecycle.submit_contract(rt, template.model_copy(update={"id": "SC-T"}), "alice")
        t = time.perf_counter()
        _generate(rt, contracts)
        build = time.perf_counter() - t
    finally:
        rt.close()
    with _admin() as conn:
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS 'complete'")
    return name, build


def _clone(contracts: int) -> tuple[str, Runtime, float | None]:
    template, build = _template(contracts)
    name = f"cf_bench_cp_{uuid.uuid4().hex[:8]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name, Runtime(Settings(database_url=_pg_url(name), risk_backend="python")), build


def run_whatif(contracts: int, repeats: int = 3) -> dict[str, Any]:
    """`rules whatif --param exposure_limit=500000` over `contracts` active contracts, each
    repeat in a fresh runtime (so the rule set is read and compiled as a CLI call does)."""
    name, rt, build = _clone(contracts)
    rt.close()
    try:
        seconds = []
        for _ in range(repeats):
            rt = Runtime(Settings(database_url=_pg_url(name), risk_backend="python"))
            try:
                t = time.perf_counter()
                what = whatif(rt, params={"exposure_limit": Decimal(500000)})
                seconds.append(time.perf_counter() - t)
            finally:
                rt.close()
        return {
            "whatif_contracts": what["contracts"],
            "whatif_changed": len(what["changed"]),
            "whatif_seconds": [round(x, 1) for x in seconds],
            "whatif_median_seconds": round(statistics.median(seconds), 1),
            "whatif_build_seconds": None if build is None else round(build, 1),
        }
    finally:
        _pg_drop(name)


def run_bench(contracts: int, submits: int, rescores: int = 3) -> dict[str, Any]:
    name, rt, build = _clone(contracts)
    try:
        parties = max(1, contracts // 10)
        real_owed = register.owed_by

        def no_lookup(session: Any, rt_: Any, ids: Any) -> dict[int, list[Any]]:
            return {i: [] for i in ids}

        _timed_submits(rt, 20, 10_000_000, parties)  # warm-up (caches, plans)
        with_lookup: list[float] = []
        baseline: list[float] = []
        cpu_with: list[float] = []
        cpu_base: list[float] = []
        block = 10
        for k in range(0, submits, block):
            register.owed_by = no_lookup  # type: ignore[assignment]
            baseline += _timed_submits(rt, block, 2 * k, parties, cpu_base)
            register.owed_by = real_owed
            with_lookup += _timed_submits(rt, block, 2 * k + block, parties, cpu_with)
        register.owed_by = real_owed

        rescore_s = []
        for k in range(rescores):  # blocked -> watch -> blocked ...: each one re-scores
            status = "blocked" if k % 2 == 0 else "watch"
            t = time.perf_counter()
            result = set_counterparty(
                rt, "rita", f"Bench party {parties + 1}", status=status, reason="bench"
            )
            rescore_s.append(time.perf_counter() - t)
            if k == 0:
                first = result
        p50, b50 = statistics.median(with_lookup), statistics.median(baseline)
        blocks = [
            statistics.median(with_lookup[i : i + block])
            - statistics.median(baseline[i : i + block])
            for i in range(0, len(with_lookup), block)
        ]
        return {
            "contracts": contracts + 1,
            "counterparties": parties + 1,
            "build_seconds": None if build is None else round(build, 1),
            "submits_each": len(with_lookup),
            "submit_p50_ms": round(p50, 2),
            "submit_p95_ms": round(_pct(with_lookup, 0.95), 2),
            "baseline_p50_ms": round(b50, 2),
            "baseline_p95_ms": round(_pct(baseline, 0.95), 2),
            "lookup_added_p50_ms": round(p50 - b50, 2),
            "lookup_added_per_block_median_ms": round(statistics.median(blocks), 2),
            "submit_cpu_p50_ms": round(statistics.median(cpu_with), 2),
            "baseline_cpu_p50_ms": round(statistics.median(cpu_base), 2),
            "lookup_added_cpu_p50_ms": round(
                statistics.median(cpu_with) - statistics.median(cpu_base), 2
            ),
            "rescore_contracts": first.rescored,
            "rescore_raised_first": len(first.raised),
            "rescore_seconds": [round(x, 2) for x in rescore_s],
            "rescore_median_seconds": round(statistics.median(rescore_s), 2),
            "database": ADMIN_URL.rsplit("@", 1)[-1],
        }
    finally:
        rt.close()
        _pg_drop(name)


def run() -> str:
    """`python -m bench counterparties`: scales from CONTRACTFLOW_BENCH_CP_CONTRACTS (default
    1,000,000; 2,000 with --quick) and CONTRACTFLOW_BENCH_CP_WHATIF (default 100,000)."""
    import os

    quick = os.environ.get("CONTRACTFLOW_BENCH_QUICK", "") not in ("", "0")
    contracts = int(os.environ.get("CONTRACTFLOW_BENCH_CP_CONTRACTS", 2000 if quick else 1_000_000))
    portfolio = int(os.environ.get("CONTRACTFLOW_BENCH_CP_WHATIF", 2000 if quick else 100_000))
    data = run_bench(contracts, 20 if quick else 200) | run_whatif(portfolio)
    return (
        "## Counterparty register (issue 11)\n\n```json\n" + json.dumps(data, indent=2) + "\n```\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--whatif-contracts", type=int, default=100_000)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--only", choices=["submit", "whatif"], default=None)
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.only != "whatif":
        out |= run_bench(args.contracts, args.submits)
    if args.only != "submit":
        out |= run_whatif(args.whatif_contracts)
    print(json.dumps(out, indent=2))
