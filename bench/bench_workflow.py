"""Issue 3: approval actions per second through the service layer.

Each worker process builds its own `Runtime` (as each CLI process or web worker does)
and repeats what a contract admin and reviewers do: `lifecycle.submit(FILE)` of a draft
(alternately a small sale with one legal task and a 2.4M sale that also needs finance),
then `lifecycle.act(task, "approve")` on every open task, as a reviewer of that role,
until the contract reaches signing. Every service call is one timed action. Workers
start together and run for a fixed time; the database already holds 10,000 or
1,000,000 contracts (`bench.dataset`). Targets (issue 3): >= 1,000 actions/s on
PostgreSQL with 4 workers, p99 < 20 ms, latency at 1,000,000 within 1.5x of 10,000.

Quick mode (`CONTRACTFLOW_BENCH_QUICK=1` or `python -m bench --quick workflow`) uses 200
and 2,000 contracts and 2-second runs.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import dataset
from bench.measure import load, ms, percentile, ratio, risk_backend, table
from bench.report import machine

SMALL = "SC-2026-0060.json"  # 480,000 CNY: legal only
LARGE = "SC-2026-0042.yaml"  # 2,400,000 CNY: legal and finance


def _sizes() -> tuple[int, int]:
    return (200, 2_000) if dataset.quick() else (10_000, 1_000_000)


def _duration() -> float:
    return float(os.environ.get("CONTRACTFLOW_BENCH_SECONDS", 1.5 if dataset.quick() else 20))


# --------------------------------------------------------------------------- worker


def _drafts(workdir: Path) -> list[Path]:
    from engine.definitions.contracts import load_contract_file
    from engine.settings import PROJECT_ROOT

    out = []
    for name in (SMALL, LARGE):
        data = load_contract_file(PROJECT_ROOT / "examples" / name).model_dump(
            mode="json", exclude_none=True
        )
        data.pop("id", None)  # codes are assigned on submit, as for most drafts
        data.pop("owner", None)  # the submitter owns it
        path = workdir / f"draft-{name.split('.')[0]}.json"
        path.write_text(json.dumps(data, indent=1))
        out.append(path)
    return out


#: SQL statements this worker process has sent (counted by an engine event in `_worker`).
_STATEMENTS = [0]


def _count_statements(*_args: Any) -> None:
    _STATEMENTS[0] += 1


def _timed(kind: str, call: Any, log: list[Any]) -> Any:
    """Run one service call until it succeeds, logging every attempt. A refused attempt
    (a lost race: `Conflict`; SQLite's write lock not granted within its busy timeout:
    "database is locked") changed nothing, so the same call is tried again, as a person
    or a script would."""
    from sqlalchemy.exc import OperationalError

    from engine.errors import Conflict

    while True:
        started, cpu, sent = time.perf_counter(), time.process_time(), _STATEMENTS[0]
        try:
            result = call()
        except Conflict:
            log.append((kind, started, time.perf_counter() - started, "conflict", 0.0, 0))
            continue
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            log.append((kind, started, time.perf_counter() - started, "locked", 0.0, 0))
            continue
        elapsed = time.perf_counter() - started
        log.append((kind, started, elapsed, "ok", _cpu(cpu), _STATEMENTS[0] - sent))
        return result


def _cycle(
    rt: Any,
    draft: Path,
    submitter: str,
    approvers: dict[str, str],
    via: str,
    log: list[Any],
) -> None:
    """Submit one draft and approve it to signing, timing every service call.

    `via` is "act" (returns the contract as `show` prints it: what the CLI and the web
    API call) or "decide" (the same transaction with a small result).
    """
    from engine.services.lifecycle import act, decide, submit
    from engine.services.views import show

    view = _timed("submit", lambda: submit(rt, draft, submitter), log)
    for _ in range(10):
        if view.stage == "signing" or view.status != "active":
            return
        tasks = [t for t in view.tasks if t.status == "open" and t.stage == view.stage]
        stage = view.stage
        for task in tasks:
            who = approvers[task.role]
            if via == "act":
                view = _timed(
                    "approve", lambda t=task, w=who: act(rt, t.id, "approve", w, "ok"), log
                )
                stage = view.stage
            else:
                stage = _timed(
                    "approve", lambda t=task, w=who: decide(rt, t.id, "approve", w, "ok"), log
                ).stage
        if via != "act" and stage not in ("signing", view.stage):
            view = show(rt, view.id)  # routed (risk review): read its new tasks, untimed
        elif via != "act":
            return


def _cpu(since: float) -> float:
    """CPU seconds this process spent since `since` (the app's share, whatever the load)."""
    return time.process_time() - since


def _worker(
    url: str, index: int, backend: str, via: str, seconds: float, barrier: Any, out: Any
) -> None:  # pragma: no cover - runs in a child process
    from sqlalchemy import event

    from engine.services.runtime import Runtime
    from engine.settings import Settings

    rt = Runtime(Settings(database_url=url, risk_backend=backend))
    event.listen(rt.db.engine, "before_cursor_execute", _count_statements)
    submitter = dataset.USERS["contract_admin"][index]
    approvers = {role: names[index % len(names)] for role, names in dataset.USERS.items()}
    with tempfile.TemporaryDirectory() as tmp:
        drafts = _drafts(Path(tmp))
        # Start the risk backend outside a transaction (a long-running process has it
        # started already; see the findings for why this matters on SQLite), then warm up.
        rt.evaluator  # noqa: B018
        for draft in drafts:
            _cycle(rt, draft, submitter, approvers, via, [])
        barrier.wait()
        log: list[Any] = []
        start = time.perf_counter()
        deadline = start + seconds
        turn = 0
        while time.perf_counter() < deadline:
            _cycle(rt, drafts[turn % 2], submitter, approvers, via, log)
            turn += 1
    rt.close()
    out.put([(k, s - start, d, o, c, n) for k, s, d, o, c, n in log])


# --------------------------------------------------------------------------- measuring


@dataclass
class Cell:
    kind: str
    contracts: int
    workers: int
    via: str
    seconds: float
    load_before: str
    load_after: str
    actions: list[tuple[str, float, float, str, float, int]] = field(default_factory=list)

    def done(self, kind: str | None = None) -> list[float]:
        return [
            d
            for k, s, d, o, _, _ in self.actions
            if o == "ok" and (kind is None or k == kind) and s + d <= self.seconds
        ]

    def rate(self, kind: str | None = None) -> float:
        return len(self.done(kind)) / self.seconds

    def p(self, q: float, kind: str | None = None) -> float:
        return percentile(self.done(kind), q)

    def cpu(self, kind: str) -> float:
        """Median CPU seconds per action in the worker process (less load-sensitive)."""
        return percentile(
            [
                c
                for k, s, d, o, c, _ in self.actions
                if o == "ok" and k == kind and s + d <= self.seconds
            ],
            50,
        )

    def statements(self, kind: str) -> float:
        """Mean SQL statements per action of `kind` (sent by the app; BEGIN on PostgreSQL
        and the pool's liveness ping are not cursor statements and are not counted)."""
        counts = [n for k, _, _, o, _, n in self.actions if o == "ok" and k == kind]
        return sum(counts) / len(counts) if counts else math.nan

    @property
    def conflicts(self) -> int:
        return sum(1 for a in self.actions if a[3] == "conflict")

    @property
    def locked(self) -> int:
        return sum(1 for a in self.actions if a[3] == "locked")


def measure(
    db: dataset.BenchDatabase, workers: int, backend: str, via: str, seconds: float
) -> Cell:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    before = load()
    procs = [
        ctx.Process(target=_worker, args=(db.url, i, backend, via, seconds, barrier, out))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    actions: list[Any] = []
    import queue

    pending = len(procs)
    while pending:
        try:
            actions.extend(out.get(timeout=5))
            pending -= 1
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                for proc in procs:
                    proc.kill()
                raise RuntimeError("a benchmark worker failed (see its traceback above)") from None
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"a benchmark worker failed (exit {proc.exitcode})")
    return Cell(db.kind, db.contracts, workers, via, seconds, before, load(), actions)


def round_trip(db: dataset.BenchDatabase) -> float:
    """Baseline: p50 of `SELECT 1` in a transaction through the product's Database."""
    from sqlalchemy import text

    from engine.store.db import Database

    database = Database(db.url)
    try:
        samples = []
        for _ in range(300):
            started = time.perf_counter()
            with database.transaction() as session:
                session.execute(text("SELECT 1"))
            samples.append(time.perf_counter() - started)
        return percentile(samples[50:], 50)
    finally:
        database.dispose()


# --------------------------------------------------------------------------- report


def run() -> str:
    backend, why = risk_backend()
    kinds = ["sqlite"] + (["postgresql"] if dataset.postgres_available() else [])
    seconds = _duration()
    cells: list[Cell] = []
    baselines: dict[tuple[str, int], float] = {}
    notes: list[str] = []
    for kind in kinds:
        for size in _sizes():
            db = dataset.prepare(kind, size)
            if db.generated_seconds is not None:
                notes.append(
                    f"{kind} {size:,} contracts generated in {db.generated_seconds:.0f} s "
                    "(cached for the next runs)"
                )
            try:
                baselines[(kind, size)] = round_trip(db)
                vias = ("act", "decide") if kind == "postgresql" else ("act",)
                for via in vias[:1] if dataset.quick() else vias:
                    for workers in (1, 4):
                        dataset.log(
                            f"workflow: {kind}, {size:,} contracts, {workers} worker(s), {via}"
                        )
                        cells.append(measure(db, workers, backend, via, seconds))
            finally:
                db.drop()
    return render(cells, baselines, backend, why, seconds, notes)


def render(
    cells: list[Cell],
    baselines: dict[tuple[str, int], float],
    backend: str,
    why: str,
    seconds: float,
    notes: list[str],
) -> str:
    rows = []
    for c in cells:
        rows.append(
            [
                c.kind,
                f"{c.contracts:,}",
                c.workers,
                c.via,
                f"{c.rate():.0f}",
                f"{c.rate('approve'):.0f}",
                ms(c.p(50)),
                ms(c.p(99)),
                f"{ms(c.p(50, 'submit'))} / {ms(c.p(99, 'submit'))}",
                f"{ms(c.p(50, 'approve'))} / {ms(c.p(99, 'approve'))}",
                f"{ms(c.cpu('submit'))} / {ms(c.cpu('approve'))}",
                f"{c.statements('submit'):.1f} / {c.statements('approve'):.1f}",
                f"{c.conflicts} / {c.locked}",
                ms(baselines[(c.kind, c.contracts)]),
                f"{c.load_before} -> {c.load_after}",
            ]
        )
    main = table(
        [
            "database",
            "contracts stored",
            "workers",
            "approve via",
            "actions/s",
            "of which approvals/s",
            "p50 ms",
            "p99 ms",
            "submit p50 / p99 ms",
            "approve p50 / p99 ms",
            "app CPU per submit / approve, p50 ms",
            "SQL statements per submit / approve",
            "refused and retried: conflicts / database is locked",
            "baseline: SELECT 1 p50 ms",
            "load (1/5/15 min) before -> after",
        ],
        rows,
    )
    by = {(c.kind, c.contracts, c.workers, c.via): c for c in cells}
    small, large = _sizes()
    scale_rows = []
    for (kind, size, workers, via), c in by.items():
        base = by.get((kind, small, workers, via))
        if size != large or base is None:
            continue
        scale_rows.append(
            [
                kind,
                workers,
                via,
                ratio(c.p(50, "submit"), base.p(50, "submit")),
                ratio(c.p(50, "approve"), base.p(50, "approve")),
                ratio(c.p(50), base.p(50)),
                ratio(c.p(99), base.p(99)),
                ratio(c.rate(), base.rate()),
            ]
        )
    scaling = table(
        [
            "database",
            "workers",
            "approve via",
            "submit p50",
            "approve p50",
            "all p50",
            "all p99",
            "actions/s",
        ],
        scale_rows,
    )
    parallel_rows = [
        [kind, f"{size:,}", via, ratio(c.rate(), by[(kind, size, 1, via)].rate())]
        for (kind, size, workers, via), c in by.items()
        if workers == 4 and (kind, size, 1, via) in by
    ]
    parallel = table(
        ["database", "contracts stored", "approve via", "actions/s, 4 workers / 1 worker"],
        parallel_rows,
    )
    return "\n\n".join(
        [
            "## Workflow engine: approval actions through the service layer (issue 3)",
            f"Machine: {machine()}. Risk backend: {backend} ({why}).",
            "An action is one service call: `lifecycle.submit(FILE)` of a draft without an id "
            "(alternately 480,000 CNY with one legal task and 2,400,000 CNY that also needs "
            "finance) or an approval by a reviewer of the task's role, until the contract "
            "reaches signing. Approvals go through `lifecycle.act` (returns the contract as "
            "`show` prints it; what the CLI and the web API call) or `lifecycle.decide` (the "
            "same checks and transaction, a small result). Each worker is a process with its "
            f"own `Runtime`; all run together for {seconds:g} s after a warm-up cycle. "
            "Latencies are per call, in the calling process; the CPU column is the calling "
            "process's own CPU time per call (the database's is not in it), which the load "
            "of other processes disturbs far less than wall time. The baseline column is a "
            "`SELECT 1` transaction through the same `Database`, measured in the same run.",
            dataset.HOW_TO_RUN,
            main,
            f"{large:,} contracts relative to {small:,} (same workers, same path; target: "
            "latency within 1.5x):",
            scaling,
            "Scaling with workers (2 cores, shared):",
            parallel,
            "Targets (issue 3):",
            _targets(by, small, large),
            *(["Notes: " + "; ".join(notes) + "."] if notes else []),
            FINDINGS,
        ]
    )


def _targets(by: dict[tuple[str, int, int, str], Cell], small: int, large: int) -> str:
    rows = []
    for via in ("act", "decide"):
        for size in (small, large):
            c = by.get(("postgresql", size, 4, via))
            if c is None:
                continue
            rate = c.rate()
            rows.append(
                [
                    f">= 1,000 actions/s, PostgreSQL, 4 workers, {size:,} contracts, {via}",
                    f"{rate:.0f}/s ({c.rate('approve'):.0f} approvals/s)",
                    "met" if rate >= 1000 else "not met",
                ]
            )
            p99 = c.p(99)
            rows.append(
                [
                    f"p99 < 20 ms, PostgreSQL, 4 workers, {size:,} contracts, {via}",
                    f"{ms(p99)} ms (approvals alone: {ms(c.p(99, 'approve'))} ms)",
                    "met" if p99 < 0.020 else "not met",
                ]
            )
        for workers in (1, 4):
            a = by.get(("postgresql", large, workers, via))
            b = by.get(("postgresql", small, workers, via))
            if a is None or b is None:
                continue
            r = a.p(50) / b.p(50) if b.p(50) else math.nan
            rows.append(
                [
                    f"p50 at {large:,} within 1.5x of {small:,}, PostgreSQL, {workers} "
                    f"worker(s), {via}",
                    f"{r:.2f}x",
                    "met" if r <= 1.5 else "not met",
                ]
            )
    return table(["target", "measured", ""], rows)


#: What the numbers mean and why (from profiling in this session; re-check after changes).
FINDINGS = """### Why the targets are missed, and what would change it

Profiled with pyinstrument and a statement counter on PostgreSQL (20,000 contracts),
2026-11-25, while the machine ran other people's test suites (load 6-10 on 2 cores):

- **The cost is CPU per action in the calling process, not the size of the database.**
  One approval issues 27 SQL statements through `act` (17 through `decide`; `act` adds
  10 to re-read the contract) and spends 7-12 ms of CPU in Python (SQLAlchemy unit of
  work, pydantic views: the CPU column); one `submit` 30 statements and ~30 ms (scoring,
  the revision's .docx, the view). PostgreSQL's own CPU per statement comes on top.
  With 2 cores shared by the workers and PostgreSQL, throughput is bounded near
  2 cores / CPU per action, so 4 workers add little over 1. 1,000 actions/s on 2 cores
  leaves about 2 ms of CPU per action for the app and the database together: an order
  of magnitude below this design, not a tuning matter. Where the owner (lifecycle, issue 3) could cut: `act` re-reads the whole
  contract after committing (`show`: ~10 statements and a full `ContractView` with its
  history) - `decide` skips it and is what the "decide" rows measure; `get_user` loads
  roles with a second query on every call and the workflow definition row is read on
  every call (cache both per process by version); `_when_from_flags` loads the
  revision's terms and validates a `Contract` on every approval that leaves a stage with
  `routes`, even when the route only reads `risk.max_severity`.
- **Submit renders the .docx inside the write transaction** (`store_revision_document`):
  on SQLite every other writer waits for the rendering; on PostgreSQL the contract row
  stays locked meanwhile. Rendering before the unit of work (it needs only the terms and
  the code) or on first download would shorten every submit's transaction.
- **SQLite, first risk evaluation in a process waits 10 s** (owner: rules,
  `engine/services/rules.py::_stored`): `Runtime.evaluator` is first touched inside the
  submit transaction, `_stored` opens a second transaction (`BEGIN IMMEDIATE`) that waits
  for the first one's write lock until the 10 s busy timeout, then silently falls back to
  the rules folder instead of the stored rule set. Every `contractflow submit` on SQLite
  pays it: `time contractflow submit draft.json --as alice` took 15.0 s (1.9 s CPU).
  Fix: resolve `rt.evaluator` before opening the unit of work (submit, revise, fulfil),
  or read the stored rule set through the caller's session. The benchmark touches
  `rt.evaluator` before its first submit, so its numbers exclude this.
- **Size**: at 1,000,000 contracts the earlier `_next_code` read every code of the year
  (0.54 s per submit: an index scan of 1M codes, LIKE cannot use the index under the
  C.UTF-8 collation, 75,000 rows to Python); the lifecycle owner replaced it with a
  counter row (`contract_counters`) during this session. Every other statement on these
  paths is an indexed lookup by contract, task or user id (EXPLAIN ANALYZE), so the
  large/small ratios above should stay near 1 apart from cache effects and load.
- **Concurrent submits queue on the id counter.** `submit_contract` takes the
  `contract_counters` row lock (`SELECT ... FOR UPDATE` in `_next_code`) first and holds
  it through scoring, the .docx rendering and building the view, so submits of the same
  prefix run one at a time: with 4 workers submit p50 rises from ~30 ms to 76-135 ms on
  PostgreSQL in the final run (300-550 ms in the runs under load 9-10). Taking the number last (just before the
  INSERT, after rendering and scoring, which need only the terms) or in its own short
  transaction would let submits overlap. Before the counter landed, the same race ended
  in unique-key conflicts instead (counted in the table when they occur).
- **SQLite with 4 writing processes starves writers.** Every transaction starts with
  `BEGIN IMMEDIATE` (engine/store/db.py) and SQLite's lock has no queue: a waiting
  writer polls with back-off while the others keep re-taking the lock, so some waits
  last seconds (p99 1.7-6 s across runs) and one run saw a wait pass the 10 s busy timeout and
  fail with "database is locked" (now counted and retried in the table; a CLI user would
  see the error). Holding the lock through scoring and .docx rendering (above) makes it
  worse. SQLite is the single-user default; deployments with several writers belong on
  PostgreSQL, which the docs should say.
- **Load and size.** These runs shared the 2 cores with other engineers' test suites
  (load in the table: ~3-4 in the final run, 5-11 in earlier ones); cells run one after
  another, so every ratio also carries the change in load between its two cells. In the
  final run the 1,000,000/10,000 latency ratio was within 1.5x for 1 worker (act, decide)
  and for 4 workers with `decide`, but 1.82x for 4 workers with `act`; earlier runs gave
  ratios below 1 for the same cell. The 1,000,000-contract database is 7 GB against
  PostgreSQL's 128 MB `shared_buffers` (the OS cache holds it), so more page reads miss
  PostgreSQL's own cache; with this noise the two causes cannot be separated - rerun on
  a quiet machine before reading much into it.
"""
