"""Risk scoring throughput and memory (issue 4): `python -m bench risk`.

Every measurement runs in a fresh subprocess (`python -m bench.bench_risk SCENARIO N`) so
that peak memory (VmHWM of the process and of its durable_rules workers) belongs to that
scenario alone. Contracts are the realistic mix of `bench.risk_data` (3 guarantees, 10
obligations, 3 installments each) scored with the full default catalogue.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench import dataset
from bench.report import machine

SIZES = (1_000, 10_000, 100_000)


def _hwm_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _runtime_parts() -> tuple[Any, Any]:
    from engine.definitions.riskconfig import load_risk_config
    from engine.definitions.rules import load_rule_dir
    from engine.settings import PROJECT_ROOT

    config = load_risk_config(PROJECT_ROOT / "config" / "risk.yaml")
    return load_rule_dir(PROJECT_ROOT / "rules", config.parameters), config


def scenario_python(n: int) -> dict[str, Any]:
    from bench.risk_data import AS_OF, contracts
    from engine.risk.python import PythonEvaluator

    rules, config = _runtime_parts()
    batch = contracts(n)
    gc.freeze()  # the generated contracts live for the whole run; do not rescan them
    evaluator = PythonEvaluator(rules, config)
    start = time.perf_counter()
    cpu = time.process_time()
    reports = evaluator.evaluate(batch, AS_OF)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return {
        "rate": n / wall,
        "rate_cpu": n / cpu,
        "flags": sum(len(r.flags) for r in reports) / n,
        "peak_mib": _hwm_kib() / 1024,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scenario_durable(n: int, workers: int) -> dict[str, Any]:
    from bench.risk_data import AS_OF, contracts
    from engine.risk.pool import DurableEvaluator

    rules, config = _runtime_parts()
    batch = contracts(n)
    gc.freeze()
    evaluator = DurableEvaluator(rules, config, workers=workers)
    evaluator.evaluate(batch[:10], AS_OF)  # start the workers outside the timing
    pids = evaluator.worker_pids()
    worker_cpu = [_cpu_seconds(pid) for pid in pids]
    start = time.perf_counter()
    cpu = time.process_time()
    reports = evaluator.evaluate(batch, AS_OF)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    worker_cpu = [_cpu_seconds(pid) - before for pid, before in zip(pids, worker_cpu, strict=True)]
    worker_peak = sum(_hwm_kib(pid) for pid in evaluator.worker_pids()) / 1024
    evaluator.close()
    return {
        "rate": n / wall,
        # Contracts per CPU-second of one worker (each worker scored n / workers of them).
        "rate_worker_cpu": n / max(sum(worker_cpu), 1e-9),
        "rate_parent_cpu": n / max(cpu, 1e-9),
        "flags": sum(len(r.flags) for r in reports) / n,
        "peak_mib": _hwm_kib() / 1024,
        "worker_peak_mib": worker_peak,
    }


def scenario_leak(total: int) -> dict[str, Any]:
    """Worker RSS after 10,000 evaluations and after `total` (sids and rulesets leak-free?)."""
    from bench.risk_data import AS_OF, contracts
    from engine.risk.pool import DurableEvaluator

    rules, config = _runtime_parts()
    batch = contracts(10_000)
    evaluator = DurableEvaluator(rules, config, workers=1)
    evaluator.evaluate(batch, AS_OF)
    pid = evaluator.worker_pids()[0]
    after_10k = _rss_kib(pid)
    done = 10_000
    start = time.perf_counter()
    while done < total:
        evaluator.evaluate(batch, AS_OF)
        done += len(batch)
    after_total = _rss_kib(pid)
    evaluator.close()
    return {
        "evaluations": done,
        "rss_10k_mib": after_10k / 1024,
        "rss_total_mib": after_total / 1024,
        "growth_percent": (after_total - after_10k) * 100 / after_10k,
        "seconds": time.perf_counter() - start,
    }


def _seed_postgres(url: str, n: int) -> None:
    """Set-based inserts of `n` stored contracts (users, a workflow, contracts, revisions)."""
    import hashlib
    import random

    from sqlalchemy import insert

    from bench.risk_data import contract_data
    from engine.domain.contract import Contract
    from engine.store import models as m
    from engine.store.db import Database

    db = Database(url)
    rng = random.Random(11)
    with db.transaction() as s:
        s.execute(insert(m.User), [{"username": "bench"}])
        user_id = s.scalar(m.User.__table__.select().with_only_columns(m.User.id))
        s.execute(
            insert(m.WorkflowDefinition),
            [{"name": "standard", "version": 1, "source_text": "", "checksum": "x"}],
        )
        wf_id = s.scalar(
            m.WorkflowDefinition.__table__.select().with_only_columns(m.WorkflowDefinition.id)
        )
    step = 5_000
    for first in range(0, n, step):
        datas = [contract_data(i, rng) for i in range(first, min(n, first + step))]
        rows, revs = [], []
        for d in datas:
            c = Contract.model_validate(d)
            terms = c.model_dump(mode="json")
            rows.append(
                {
                    "code": c.id,
                    "title": c.title,
                    "direction": c.direction.value,
                    "counterparty_name": c.counterparty.name,
                    "currency": c.currency,
                    "amount": c.amount,
                    "amount_base": c.amount,
                    "start_date": c.start_date,
                    "end_date": c.end_date,
                    "owner_id": user_id,
                    "submitted_by_id": user_id,
                    "workflow_id": wf_id,
                    "stage": "legal_review",
                }
            )
            revs.append(terms)
        with db.transaction() as s:
            ids = (
                s.execute(
                    insert(m.Contract).returning(m.Contract.id, sort_by_parameter_order=True), rows
                )
                .scalars()
                .all()
            )
            s.execute(
                insert(m.ContractRevision),
                [
                    {
                        "contract_id": cid,
                        "number": 1,
                        "terms": terms,
                        "checksum": hashlib.sha256(json.dumps(terms).encode()).hexdigest(),
                        "submitted_by_id": user_id,
                    }
                    for cid, terms in zip(ids, revs, strict=True)
                ],
            )
    db.dispose()


def scenario_seed(n: int, name: str) -> dict[str, Any]:
    """A migrated database `name` holding `n` stored contracts (the template every rescore
    scenario clones, so each backend starts from the same, freshly seeded data)."""
    from engine.store import migrate
    from engine.store.db import Database

    with dataset._admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = dataset._pg_url(name)
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    start = time.perf_counter()
    _seed_postgres(url, n)
    return {"seed_seconds": time.perf_counter() - start}


def scenario_rescore(template: str, workers: int, backend: str = "durable") -> dict[str, Any]:
    """Two `rescore` passes over a fresh copy of the seeded template: the first writes every
    contract's flags, the second (same day) finds nothing changed."""
    from bench.risk_data import AS_OF
    from engine.services.rescore import rescore
    from engine.services.runtime import Runtime
    from engine.settings import Settings

    name = f"cf_bench_{uuid.uuid4().hex[:8]}"
    with dataset._admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = dataset._pg_url(name)
    try:
        rt = Runtime(Settings(database_url=url, risk_backend=backend, risk_workers=workers))
        _ = rt.evaluator  # load the rule set and start the evaluator outside the timing
        first = rescore(rt, AS_OF)
        steady = rescore(rt, AS_OF)
        rt.close()
        return {
            "contracts": first["contracts"],
            "first_seconds": first["seconds"],
            "first_changed": first["changed"],
            "steady_seconds": steady["seconds"],
            "steady_changed": steady["changed"],
            "peak_mib": _hwm_kib() / 1024,
        }
    finally:
        dataset._pg_drop(name)


def _sub(*args: str, root: Path | None = None) -> dict[str, Any]:
    """One scenario in a fresh process; `root`: another checkout's code (the baseline)."""
    root = root or Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_risk", *args],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=False,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run(sizes: tuple[int, ...] | None = None, leak_total: int | None = None) -> str:
    quick = os.environ.get("CONTRACTFLOW_BENCH_QUICK") == "1"
    sizes = sizes or ((1_000, 5_000) if quick else SIZES)
    leak_total = leak_total or (50_000 if quick else 1_000_000)
    rescore_n = 5_000 if quick else max(sizes)
    baseline_root = os.environ.get("CONTRACTFLOW_BENCH_RISK_BASELINE")
    lines = [
        "## Risk scoring (issue 4)",
        "",
        f"Machine: {machine()}. Full default catalogue (13 rules), realistic contracts (3",
        "guarantees, 10 obligations, 3 installments each, mostly clean as in a real portfolio).",
        f"Load average when the run started: {os.getloadavg()[0]:.1f} (2 cores).",
        "Rates are contracts per second of wall time; in brackets, CPU-time rates: for",
        "python the process's, for durable_rules contracts per CPU-second of one worker",
        "process and of the parent (which extracts values and builds the flags).",
        "The generated contracts are `gc.freeze()`-d so the collector does not rescan them.",
        "Peak memory is the process's VmHWM (and, for durable_rules, the sum of its workers').",
        "",
        "| backend | contracts | contracts/s | peak MiB | workers' peak MiB |",
        "|---|---|---|---|---|",
    ]
    flags = 0.0
    for n in sizes:
        py = _sub("python", str(n))
        if "error" in py:
            lines.append(f"| python | {n:,} | error: {py['error']} | | |")
            continue
        flags = py["flags"]
        lines.append(
            f"| python | {n:,} | {py['rate']:,.0f} (CPU {py['rate_cpu']:,.0f}) | "
            f"{py['peak_mib']:.0f} | |"
        )
        for workers in (1, 2):
            du = _sub("durable", str(n), str(workers))
            if "error" in du:
                lines.append(f"| durable x{workers} | {n:,} | error: {du['error']} | | |")
                continue
            lines.append(
                f"| durable_rules, {workers} worker(s) | {n:,} | {du['rate']:,.0f} "
                f"(per worker CPU {du['rate_worker_cpu']:,.0f}; parent CPU "
                f"{du['rate_parent_cpu']:,.0f}) | {du['peak_mib']:.0f} | "
                f"{du['worker_peak_mib']:.0f} |"
            )
    lines += ["", f"Flags per contract: {flags:.2f}."]
    if baseline_root:
        n = 10_000 if not quick else 1_000
        lines += [
            "",
            f"Baseline in the same run: the code before this change (a checkout of it named by "
            f"`CONTRACTFLOW_BENCH_RISK_BASELINE`, here `{baseline_root}`), "
            f"{n:,} contracts:",
            "",
            "| backend | contracts/s (baseline) | contracts/s (now, above) |",
            "|---|---|---|",
        ]
        root = Path(baseline_root)
        now = {"python": _sub("python", str(n))}
        for w in (1, 2):
            now[f"durable {w}"] = _sub("durable", str(n), str(w))
        old = {"python": _sub("python", str(n), root=root)}
        for w in (1, 2):
            old[f"durable {w}"] = _sub("durable", str(n), str(w), root=root)
        for key in now:
            a, b = old[key], now[key]
            ra = f"{a['rate']:,.0f}" if "rate" in a else f"error: {a.get('error')}"
            rb = f"{b['rate']:,.0f}" if "rate" in b else f"error: {b.get('error')}"
            if "rate_cpu" in a and "rate_cpu" in b:
                ra += f" (CPU {a['rate_cpu']:,.0f})"
                rb += f" (CPU {b['rate_cpu']:,.0f})"
            lines.append(f"| {key} | {ra} | {rb} |")
    lines += ["", f"End-to-end `rescore` on PostgreSQL, {rescore_n:,} stored contracts:", ""]
    template = f"cf_bench_risk_tpl_{uuid.uuid4().hex[:8]}"
    seeded = _sub("seed", str(rescore_n), template)
    if "error" in seeded:
        lines.append(f"error seeding: {seeded['error']}")
    else:
        lines += ["| backend | pass | seconds | contracts written |", "|---|---|---|---|"]
        peak = 0.0
        for label, args in (
            ("durable_rules, 2 workers", ("2", "durable")),
            ("durable_rules, 1 worker", ("1", "durable")),
            ("python", ("1", "python")),
        ):
            rs = _sub("rescore", template, *args)
            if "error" in rs:
                lines.append(f"| {label} | error: {rs['error']} | | |")
                continue
            peak = max(peak, rs["peak_mib"])
            lines += [
                f"| {label} | first (every contract new: all flags written) | "
                f"{rs['first_seconds']:.1f} | {rs['first_changed']:,} |",
                f"| {label} | again, same day (nothing changed) | "
                f"{rs['steady_seconds']:.1f} | {rs['steady_changed']:,} |",
            ]
        lines += [
            "",
            f"(Seeding {rescore_n:,} contracts with set-based inserts took "
            f"{seeded['seed_seconds']:.1f} s, once: every row above starts from a copy of "
            f"that database. Peak memory of a rescoring process {peak:.0f} MiB.)",
        ]
        dataset._pg_drop(template)
    leak = _sub("leak", str(leak_total))
    lines += ["", "Memory of one durable_rules worker (sid per contract, deleted after each):"]
    if "error" in leak:
        lines.append(f"error: {leak['error']}")
    else:
        lines.append(
            f"RSS after 10,000 evaluations {leak['rss_10k_mib']:.1f} MiB, after "
            f"{leak['evaluations']:,} {leak['rss_total_mib']:.1f} MiB "
            f"({leak['growth_percent']:+.1f}%)."
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    kind = argv[0]
    n = int(argv[1]) if argv[1].isdigit() else 0
    if kind == "python":
        out = scenario_python(n)
    elif kind == "durable":
        out = scenario_durable(n, int(argv[2]))
    elif kind == "leak":
        out = scenario_leak(n)
    elif kind == "seed":
        out = scenario_seed(n, argv[2])
    else:
        out = scenario_rescore(argv[1], int(argv[2]), *(argv[3:4] or ["durable"]))
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
