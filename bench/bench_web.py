"""Issue 6: the web app under load, served by uvicorn on loopback.

The database is PostgreSQL with 1,000,000 contracts and 100,000 open tasks
(`bench.dataset`; half of the open tasks are legal reviews, half signings). The app runs as
`contractflow serve --no-scheduler --workers N` (uvicorn underneath) in its own processes;
a separate load process (httpx, keep-alive connections, one thread per client) signs in
through `/login` like a browser and then measures:

- the inbox page `GET /inbox` of a legal reviewer who sees 50,000 open tasks (HTML, first
  page, overdue first), one client and then 4 at once; target p95 < 50 ms;
- approvals through the JSON API, `POST /api/tasks/{id}/act {"action": "approve"}` with a
  bearer token, 8 clients on distinct open legal tasks; target >= 300/s on 2 cores;
- the baseline in the same run: `GET /api/me` (authentication + routing, no work).

Quick mode (`CONTRACTFLOW_BENCH_QUICK=1` or `python -m bench --quick web`) uses 2,000
contracts (100 open legal tasks) and short phases.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import dataset
from bench.measure import load, ms, percentile, ratio, risk_backend, table
from bench.report import machine


def _size() -> int:
    return 2_000 if dataset.quick() else 1_000_000


def _seconds() -> float:
    return float(os.environ.get("CONTRACTFLOW_BENCH_SECONDS", 2 if dataset.quick() else 20))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- the load process


@dataclass
class Phase:
    name: str
    clients: int
    seconds: float
    samples: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    load_before: str = ""
    load_after: str = ""
    #: CPU seconds spent during the phase by the app's processes, PostgreSQL's, the loader's
    cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def ok(self) -> list[float]:
        return self.samples

    def rate(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0

    def cpu_ms(self, which: int) -> str:
        """CPU per request (ms) of the app (0), PostgreSQL (1) or the load process (2)."""
        done = sum(self.statuses.values())
        return f"{self.cpu[which] / done * 1000:.1f}" if done else "-"


def _proc_cpu(match: Any) -> float:
    """CPU seconds of the processes whose /proc/PID/stat `match` accepts (called with the
    command name and the process group), including their reaped children's."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        if match(name, int(fields[2])):
            # utime + stime, plus cutime + cstime: the CPU of children it has reaped (the
            # PostgreSQL postmaster's count keeps that of backends that have exited)
            total += sum(int(f) for f in fields[11:15]) / tick
    return total


def _cpu_now(app_group: int) -> tuple[float, float, float]:
    """(app, PostgreSQL, this load process) CPU seconds so far. PostgreSQL's share counts
    every postgres process on the machine: the heavy lock keeps other runs away."""
    return (
        _proc_cpu(lambda _name, group: group == app_group),
        _proc_cpu(lambda name, _group: name.startswith("postgres")),
        time.process_time(),
    )


def _sign_in(client: Any, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("no CSRF token on /login")
    done = client.post(
        "/login",
        data={
            "username": username,
            "password": dataset.PASSWORD,
            "csrf_token": token.group(1),
            "next": "/inbox",
        },
    )
    if done.status_code != 303:
        raise RuntimeError(f"sign-in failed: {done.status_code}")


def _run_phase(
    base: str,
    phase: Phase,
    request: Any,
    setup: Any = None,
    work: list[list[int]] | None = None,
    app_group: int = 0,
) -> Phase:
    """`clients` threads each with its own keep-alive connection, for `seconds`."""
    import httpx

    lock = threading.Lock()
    barrier = threading.Barrier(phase.clients + 1)
    stop = [0.0]
    start = [0.0]

    def client(index: int) -> None:
        with httpx.Client(base_url=base, timeout=60, follow_redirects=False) as http:
            if setup is not None:
                setup(http)
            items = iter(work[index]) if work is not None else None
            barrier.wait(timeout=300)
            barrier.wait(timeout=300)
            while True:
                arg = None
                if items is not None:
                    arg = next(items, None)
                    if arg is None:
                        return
                began = time.perf_counter()
                if began >= stop[0]:
                    return
                status = request(http, arg)
                took = time.perf_counter() - began
                with lock:
                    phase.statuses[status] = phase.statuses.get(status, 0) + 1
                    if 200 <= status < 400 and began + took <= stop[0]:
                        phase.samples.append(took)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(phase.clients)]
    for t in threads:
        t.start()
    barrier.wait(timeout=300)  # every client has connected and signed in
    phase.load_before = load()
    cpu_before = _cpu_now(app_group)
    start[0] = time.perf_counter()
    stop[0] = start[0] + phase.seconds
    barrier.wait(timeout=300)
    for t in threads:
        t.join()
    cpu_after = _cpu_now(app_group)
    phase.cpu = (
        cpu_after[0] - cpu_before[0],
        cpu_after[1] - cpu_before[1],
        cpu_after[2] - cpu_before[2],
    )
    phase.load_after = load()
    return phase


def _load(
    base: str, token: str, tasks: list[int], seconds: float, out: Any, app_group: int
) -> None:  # pragma: no cover
    """The load process: runs every phase against the server and sends the results back."""
    auth = {"Authorization": f"Bearer {token}"}
    phases: list[Phase] = []

    def me(http: Any, _: Any) -> int:
        return int(http.get("/api/me", headers=auth).status_code)

    def inbox(http: Any, _: Any) -> int:
        response = http.get("/inbox")
        if response.status_code == 200 and "<table" not in response.text:
            return 599  # an inbox without its table is not a served inbox
        return int(response.status_code)

    def approve(http: Any, task: int) -> int:
        response = http.post(
            f"/api/tasks/{task}/act", headers=auth, json={"action": "approve", "comment": "ok"}
        )
        return int(response.status_code)

    def signed_in(http: Any) -> None:
        _sign_in(http, "legal1")

    # warm-up: every path once per connection kind
    _run_phase(base, Phase("warm-up", 2, min(seconds, 3)), inbox, signed_in)
    _run_phase(base, Phase("warm-up", 2, min(seconds, 3)), me)
    phases.append(
        _run_phase(base, Phase("GET /api/me (baseline)", 1, seconds), me, app_group=app_group)
    )
    for clients in (1, 4):
        phases.append(
            _run_phase(
                base, Phase("GET /inbox", clients, seconds), inbox, signed_in, app_group=app_group
            )
        )
    clients = 8
    work = [tasks[i::clients] for i in range(clients)]
    phases.append(
        _run_phase(
            base,
            Phase("POST /api/tasks/{id}/act approve", clients, seconds),
            approve,
            None,
            work,
            app_group,
        )
    )
    out.put(phases)


# --------------------------------------------------------------------------- the server


class Server:
    """`contractflow serve --no-scheduler --workers N` in its own process group (stopped by
    its pid): the product's own way to serve the app (uvicorn underneath)."""

    def __init__(self, url: str, workers: int, backend: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "CONTRACTFLOW_DATABASE_URL": url,
            "CONTRACTFLOW_RISK_BACKEND": backend,
            "CONTRACTFLOW_SECRET_KEY": "bench-secret-key-not-for-production",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli",
                "serve",
                "--no-scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--no-access-log",
            ],
            env=env,
            start_new_session=True,
        )
        self._wait()

    def _wait(self) -> None:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}")
            try:
                if httpx.get(self.base + "/login", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("uvicorn did not answer within 120 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# --------------------------------------------------------------------------- run


def _open_legal_tasks(url: str) -> list[int]:
    """Setup, not measured: the open legal tasks (those of the seeded legal reviews)."""
    from sqlalchemy import select

    from engine.store import models as m
    from engine.store.db import Database

    database = Database(url)
    try:
        with database.sessions() as session:
            return list(
                session.scalars(
                    select(m.Task.id)
                    .where(m.Task.status == "open", m.Task.role == "legal")
                    .order_by(m.Task.id)
                )
            )
    finally:
        database.dispose()


def _token(url: str, backend: str) -> str:
    from engine.services.auth import create_token
    from engine.services.runtime import Runtime
    from engine.settings import Settings

    rt = Runtime(Settings(database_url=url, risk_backend=backend))
    try:
        return create_token(rt, "legal1", "bench").token
    finally:
        rt.close()


def measure(db: dataset.BenchDatabase, workers: int, backend: str, tasks: list[int]) -> list[Phase]:
    token = _token(db.url, backend)
    server = Server(db.url, workers, backend)
    try:
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        loader = ctx.Process(
            target=_load, args=(server.base, token, tasks, _seconds(), out, server.proc.pid)
        )
        loader.start()
        phases: list[Phase] = out.get(timeout=3600)
        loader.join()
        return phases
    finally:
        server.stop()


def run() -> str:
    backend, why = risk_backend()
    if not dataset.postgres_available():
        return "## Web app under load (issue 6)\n\nNot run: PostgreSQL is not available."
    size = _size()
    db = dataset.prepare("postgresql", size)
    results: dict[int, list[Phase]] = {}
    try:
        tasks = _open_legal_tasks(db.url)
        half = len(tasks) // 2
        for workers, share in ((1, tasks[:half]), (2, tasks[half:])):
            dataset.log(f"web: {size:,} contracts, uvicorn with {workers} worker(s)")
            results[workers] = measure(db, workers, backend, share)
    finally:
        db.drop()
    return render(results, size, backend, why)


def render(results: dict[int, list[Phase]], size: int, backend: str, why: str) -> str:
    rows = []
    for workers, phases in results.items():
        baseline = next(p for p in phases if "baseline" in p.name)
        for p in phases:
            rows.append(
                [
                    workers,
                    p.name,
                    p.clients,
                    f"{p.rate():.0f}",
                    ms(percentile(p.ok, 50)),
                    ms(percentile(p.ok, 95)),
                    ms(percentile(p.ok, 99)),
                    ratio(percentile(p.ok, 50), percentile(baseline.ok, 50)),
                    p.cpu_ms(0),
                    p.cpu_ms(1),
                    p.cpu_ms(2),
                    ", ".join(f"{k}: {v}" for k, v in sorted(p.statuses.items())),
                    f"{p.load_before} -> {p.load_after}",
                ]
            )
    main = table(
        [
            "uvicorn workers",
            "request",
            "clients",
            "requests/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "p50 vs baseline",
            "app CPU ms/req",
            "PostgreSQL CPU ms/req",
            "load process CPU ms/req",
            "statuses",
            "load before -> after",
        ],
        rows,
    )
    target_rows = []
    for workers, phases in results.items():
        inbox = next(p for p in phases if p.name == "GET /inbox" and p.clients == 1)
        p95 = percentile(inbox.ok, 95)
        target_rows.append(
            [
                f"inbox p95 < 50 ms ({workers} uvicorn worker(s), 1 client)",
                f"{ms(p95)} ms",
                "met" if p95 < 0.050 else "not met",
            ]
        )
        act = next(p for p in phases if "act" in p.name)
        target_rows.append(
            [
                f">= 300 approvals/s over HTTP ({workers} uvicorn worker(s), 8 clients)",
                f"{act.rate():.0f}/s (p50 {ms(percentile(act.ok, 50))} ms, "
                f"p99 {ms(percentile(act.ok, 99))} ms)",
                "met" if act.rate() >= 300 else "not met",
            ]
        )
    return "\n\n".join(
        [
            "## Web app under load (issue 6)",
            f"Machine: {machine()} (the app, PostgreSQL and the load process share these "
            f"cores). Risk backend: {backend} ({why}).",
            f"PostgreSQL holding {size:,} contracts and {size // 10:,} open tasks (half "
            "legal, half signing); the signed-in reviewer (role legal) has "
            f"{size // 20:,} open tasks in the inbox. Each phase runs {_seconds():g} s; only "
            "requests that finished inside it count. Approvals go to distinct open legal "
            "tasks, so each moves a contract from legal review to signing.",
            dataset.HOW_TO_RUN,
            main,
            "Targets (issue 6):",
            table(["target", "measured", ""], target_rows),
            FINDINGS,
        ]
    )


FINDINGS = """### Why the targets are missed, and what would change it

The inbox met its target in the final run (1 uvicorn worker, load ~4: p95 33 ms) and
missed it in the earlier runs under load 9-10 (p95 160-210 ms), because its cost follows
the reviewer's open tasks, not the page. EXPLAIN ANALYZE on the 1,000,000-contract
database (reviewer `legal1`, 50,000 open legal tasks; timings inflated by the
instrumentation and by load 9-10, compare them with each other) - owner: web app /
inbox (`engine/services/inbox.py`):

- **Three inbox queries touch all 50,000 of the reviewer's tasks** on every page view:
  the count (a bitmap scan of the tasks, then per task a join to `contracts` and an
  anti-join probe of `approvals`: 300-630 ms instrumented), the page (110 ms: `ORDER BY
  CASE WHEN due_at IS NULL ..., due_at, id` and the `assignee OR role` condition stop
  PostgreSQL from walking `ix_tasks_open_role_due` in order, so it sorts all 50,000) and
  the stage list (50-115 ms: `DISTINCT stage` over all of them). Rewrites measured the
  same way on the same data: the page as a `UNION ALL` of the unassigned-by-role walk and
  the assigned-to-me walk, each `ORDER BY due_at NULLS LAST, id LIMIT n`, joined to
  contracts after the limit: **7.7 ms** (Merge Append over the existing index); the
  "already approved by me" probe only where `approvals_required > 1` (a single-approval
  open task cannot carry my approval); the count without the contracts join unless a
  contract filter is set - an index-only count over the partial index takes 3 ms when
  the predicate uses only its columns (e.g. an index `(role, due_at, id) INCLUDE
  (assignee_id, approvals_required) WHERE status = 'open'`), or cap it (`count` over
  `LIMIT 1001`, 11 ms, shown as "1,000+"); stages from the workflow definitions (the
  stages with tasks for my roles) instead of `DISTINCT`.
- **An approval over HTTP is the service `act` plus ~6 statements of authentication and
  visibility checks** (token, user, roles, delegations, task, visible contract): about
  36 statements and ~38 ms of app CPU per request in-process at 10,000 contracts, and it
  returns the full `ContractView` (history, revisions, flags) that `act` rebuilds after
  committing. With 2 cores shared by uvicorn, PostgreSQL and the load process, that CPU
  bounds the rate far below 300/s; see the workflow section for where the service's
  time goes (`decide` + a slim response would drop the re-read).
- **`uvicorn --workers 2` adds ~45 ms to every keep-alive request here** (what
  `contractflow serve --workers 2` runs): `GET /login` on one connection took 1.6 ms p50
  with one worker and 48 ms with two (100 requests each, same database and machine);
  the 2-worker rows above carry that stall, so they understate what two cores can do.
  It looks like a TCP delayed-ACK/Nagle interaction in uvicorn's multi-process mode; not
  investigated further (owner: deployment / `engine/cli/serve.py`; running N
  single-worker processes behind a proxy, or gunicorn with uvicorn workers, avoids it
  if that is the cause).
- `GET /api/tasks` (`list_tasks`) returns every open task of the user with no limit:
  50,000 rows for this reviewer. The inbox pages; the API list and `contractflow tasks`
  should too.
"""
