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


FINDINGS = """### What changed, and why the approval target is still missed

Before this branch (the 01:42 run on the same machine and data): inbox p95 32.8 ms with 1
worker and 68.3 ms with 2; approvals 51/s (1 worker) and 67/s (2 workers); `GET /api/me` 235/s
and 21/s. CPU per request in the table is measured per phase from /proc: the app's processes (the
`contractflow serve` process group), every PostgreSQL process (the heavy lock keeps other
runs off the machine) and the load process, divided by the requests the phase completed.

**Inbox: met, with 1 and 2 workers.** The page costs about the same with 100 or 50,000 open
tasks. `engine/services/inbox.py`: the default view (due date, overdue first) is one
statement - the reviewer's open tasks per role read in index order from
`ix_tasks_open_role_due (role, due_at, id) INCLUDE (assignee_id, approvals_required) WHERE
status = 'open'` (an index-only scan, no sort), cut at 1,001 per branch, window sums for the
total and overdue counts ("1000+" past that), and only the page's 50 rows joined to
contracts. The "already approved by me" probe runs only for tasks needing more than one
approval (an open single-approval task cannot carry one), as a correlated lookup: before, it
probed `approvals` for every task walked (1,092 probes, 12 ms of a 13 ms count) and a
`NOT EXISTS` there may be planned as a hashed scan of all of a user's approvals. The stage
menu comes from the workflow definitions (cached per definition id). PostgreSQL spends
~1.3 ms (plan + execute) on the inbox's statements; the table's PostgreSQL column (~3 ms)
adds the sign-in lookup, transaction begin/end and connection checks. What remains is
Python, ~9-10 ms of app CPU per page: SQLAlchemy building the page statement ~1.3 ms
(caching the built statement per role set would save it), the template ~1.6 ms, the HTTP
stack and session cookie ~1.5 ms (the `GET /api/me` row).

**`--workers 2` no longer adds ~45 ms per request.** The cause was Nagle's algorithm:
uvicorn binds the multi-worker listener as `socket.socket(family)` (proto 0) and asyncio sets
`TCP_NODELAY` only on accepted sockets that report `IPPROTO_TCP`, so a response written as
headers + body waited for the client's delayed ACK (Kludex/uvicorn#3149, open in 0.54).
`contractflow serve --workers N` now binds the listener itself as a TCP socket
(`engine/web/server.py`; `GET /login` keep-alive p50 44 ms -> 1.6 ms) and this benchmark runs
`contractflow serve`, so the 2-worker rows measure two cores rather than the stall.

**Approvals: not met; the arithmetic.** `POST /api/tasks/{id}/act` now authenticates with one
statement (token, user and roles; statements built once with bind parameters), proves
visibility from the task's own role or assignment (one statement; the delegation and
ownership checks run only otherwise), calls `lifecycle.decide` and answers a small
`ActOutcome` instead of rebuilding the full contract view (the documented `contractflow act` output is
unchanged). In-process on this database that is 0.8 ms (auth) + 0.6 ms (visibility) + 8.2 ms
(`decide`: ~20 statements, owned by the workflow service) of CPU, plus the HTTP stack (the
`GET /api/me` row). Under 8 clients the table's CPU columns give the real bill per approval:
app + PostgreSQL + load process, about 20 ms, so 2 cores cannot exceed ~100 approvals/s on
this path (2,000 ms of CPU per second / 20 ms), and the measured rate is close to that.
300 approvals/s leaves 2,000 / 300 = 6.7 ms of CPU per approval for all three together;
the baseline `GET /api/me` alone (authentication and routing, no work) takes 2.6-3.5 ms of
that, which leaves 3-4 ms for a transaction whose service part (`decide`) is 8 ms of Python
on its own. Reaching 300/s needs `decide` at a fraction of its cost and a leaner HTTP stack
than FastAPI/uvicorn-h11 (or more cores), not more tuning of the route.

**Task lists are paged.** `GET /api/tasks` and `contractflow tasks` return 100 tasks by
default (`limit` / `--limit` up to 1,000, `offset` / `--offset`; `X-Next-Offset` and a
line on standard error name the next page), found in SQL over the same index per role
(every open task: one branch per role) instead of loading all 50,000 rows; the documented JSON list
shape is kept.
"""
