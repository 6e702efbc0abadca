"""Child processes that cannot die silently, and cannot outlive or double the parent.

`flows.stack.PrefectStack` runs the Prefect server and the flow runner through this; it
knows nothing about Prefect. Three guarantees, each from an operator's bad day (issue 19):

- **Supervised**: a child that exits is restarted after a growing back-off (1, 2, 4, 8, 16,
  30 s); every exit and restart is logged as a WARNING naming the child, its pid and exit
  code. More than `max_restarts` exits within `window` seconds and the supervisor gives up
  on that child: an ERROR line says the scheduled jobs are not running, and the state file
  says `failed` (what `/readyz` and the admin page show).
- **One per data folder**: the supervisor holds an exclusive `flock` on
  `<home>/scheduler.lock` for its whole life. A second `contractflow serve` on the same
  folder gets `SchedulerBusy` naming the pid that holds it. The kernel drops the lock when
  its holder dies, however it dies, so a SIGKILLed parent never blocks a restart.
- **No orphans**: each child is started through `python -m flows.orphan_guard`, which asks
  the kernel to SIGTERM it when its parent dies (Linux `PR_SET_PDEATHSIG`), then `exec`s the
  real command. Its descendants (Prefect's flow-run processes, some in their own sessions)
  are not covered by that, so every child is also started with
  `CONTRACTFLOW_SUPERVISOR_HOME=<home>` in its environment, which descendants inherit; the
  next supervisor to take the lock ends every process that still carries that marker
  (SIGTERM, then SIGKILL) and logs each one.

State, rewritten on every change and every `heartbeat` seconds, in `<home>/scheduler.json`:
`{"owner_pid", "updated", "heartbeat_seconds", "ui_url", "children": {key: {"label",
"pid", "state", "restarts", "last_exit", "since"}}}` with `state` one of `starting`,
`running`, `restarting`, `failed`, `stopped`. `engine.services.health` reads it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("contractflow.scheduler")

MARKER = "CONTRACTFLOW_SUPERVISOR_HOME"
PARENT = "CONTRACTFLOW_SUPERVISOR_PARENT"
LOCK_FILE = "scheduler.lock"
STATE_FILE = "scheduler.json"
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


class SupervisorError(RuntimeError):
    """A child did not start (its first start, before supervision takes over)."""


class SchedulerBusy(RuntimeError):
    """Another live process already supervises the children for this folder."""


@dataclass
class ChildSpec:
    """What to run. `ready(proc)` blocks until the child is usable or raises."""

    key: str
    label: str
    argv: list[str]
    log_name: str
    ready: Callable[[subprocess.Popen[bytes]], None] | None = None


@dataclass
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    state: str = "starting"
    exits: list[float] = field(default_factory=list)
    restarts: int = 0
    last_exit: int | None = None
    since: float = field(default_factory=time.time)
    next_start: float = 0.0


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM the child's process group, wait, then SIGKILL what is left."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def marked_processes(home: Path) -> list[int]:
    """Pids of live processes (not zombies) whose environment carries our marker for `home`."""
    wanted = f"{MARKER}={home}".encode()
    found = []
    proc_root = Path("/proc")
    if not proc_root.is_dir():
        return []
    for entry in proc_root.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if wanted in environ.split(b"\0") and stat.rsplit(")", 1)[-1].split()[0] != "Z":
            found.append(int(entry.name))
    return found


def reap(home: Path, say: Callable[[str], None], timeout: float = 10.0) -> list[int]:
    """End every process a dead supervisor of `home` left behind; returns their pids."""
    pids = marked_processes(home)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and marked_processes(home):
        time.sleep(0.2)
    for pid in marked_processes(home):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if pids:
        say(
            f"scheduler: ended {len(pids)} process(es) left running by a previous "
            f"`contractflow serve` that was killed (pids {', '.join(map(str, pids))})"
        )
    return pids


def read_state(home: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((home / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Supervisor:
    """See the module docstring. `start()` starts the children in order; `stop()` stops
    them in reverse order and releases the lock."""

    def __init__(
        self,
        home: Path,
        specs: Sequence[ChildSpec],
        env: dict[str, str],
        *,
        backoff: Sequence[float] = BACKOFF,
        max_restarts: int = 5,
        window: float = 600.0,
        poll: float = 0.5,
        heartbeat: float = 5.0,
        info: dict[str, Any] | None = None,
        say: Callable[[str], None] | None = None,
        shout: Callable[[str], None] | None = None,
    ) -> None:
        self.home = home.resolve()
        self.children = [_Child(spec) for spec in specs]
        self.env = env
        self.backoff = tuple(backoff)
        self.max_restarts = max_restarts
        self.window = window
        self.poll = poll
        self.heartbeat = heartbeat
        self.info = info or {}
        self.say = say or log.warning
        self.shout = shout or log.error
        self._lock: IO[str] | None = None
        self._logs: list[IO[bytes]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = 0.0
        self._mutex = threading.Lock()

    # -- the lock and the leftovers of a killed predecessor ------------------------------
    def acquire(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        lock = (self.home / LOCK_FILE).open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            state = read_state(self.home) or {}
            owner = state.get("owner_pid", "unknown")
            raise SchedulerBusy(
                f"another `contractflow serve` (pid {owner}) already runs the scheduler for "
                f"{self.home}; stop it first, or start this one with --no-scheduler"
            ) from None
        self._lock = lock
        reap(self.home, self.say)

    # -- children ------------------------------------------------------------------------
    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        logfile = (self.home / spec.log_name).open("ab")
        self._logs.append(logfile)
        env = {**self.env, MARKER: str(self.home), PARENT: str(os.getpid())}
        child.proc = subprocess.Popen(
            [sys.executable, "-m", "flows.orphan_guard", *spec.argv],
            env=env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        if spec.ready is not None:
            spec.ready(child.proc)
        child.state = "running"
        child.since = time.time()

    def start(self) -> Supervisor:
        if self._lock is None:
            self.acquire()
        try:
            for child in self.children:
                self._spawn(child)
        except BaseException:
            self.stop()
            raise
        self._write_state(force=True)
        self._thread = threading.Thread(target=self._watch, name="scheduler-supervisor")
        self._thread.daemon = True
        self._thread.start()
        return self

    def child(self, key: str) -> _Child:
        return next(c for c in self.children if c.spec.key == key)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                with self._mutex:
                    self._tick()
                self._write_state()
            except Exception:  # the supervisor itself must not die silently either
                log.exception("scheduler: supervisor error (carrying on)")

    def _tick(self) -> None:
        now = time.monotonic()
        for child in self.children:
            proc, label = child.proc, child.spec.label
            if child.state == "running" and proc is not None and proc.poll() is not None:
                child.last_exit = proc.returncode
                child.exits = [t for t in child.exits if now - t < self.window] + [now]
                if len(child.exits) > self.max_restarts:
                    child.state = "failed"
                    child.since = time.time()
                    self.shout(
                        f"scheduler: GAVE UP on the {label}: it exited {len(child.exits)} "
                        f"times in {self.window:.0f} s (last exit code {proc.returncode}); "
                        f"scheduled jobs are NOT running. See {self.home / child.spec.log_name}"
                        ", fix the cause and restart `contractflow serve`"
                    )
                    self._write_state(force=True)
                    continue
                delay = self.backoff[min(len(child.exits) - 1, len(self.backoff) - 1)]
                child.state = "restarting"
                child.since = time.time()
                child.next_start = now + delay
                self.say(
                    f"scheduler: the {label} (pid {proc.pid}) exited with code "
                    f"{proc.returncode}; restarting it in {delay:.0f} s "
                    f"(exit {len(child.exits)} of {self.max_restarts} allowed in "
                    f"{self.window:.0f} s; log: {self.home / child.spec.log_name})"
                )
                self._write_state(force=True)
            elif child.state == "restarting" and now >= child.next_start:
                try:
                    self._spawn(child)
                except Exception as exc:
                    self.say(f"scheduler: restarting the {label} failed: {exc}")
                    child.state = "running"  # counted as another exit on the next tick
                    if child.proc is not None:
                        _stop_process(child.proc, timeout=5)
                    continue
                child.restarts += 1
                assert child.proc is not None
                self.say(
                    f"scheduler: restarted the {label} (pid {child.proc.pid}, "
                    f"restart {child.restarts})"
                )
                self._write_state(force=True)

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            **self.info,
            "owner_pid": os.getpid(),
            "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "heartbeat_seconds": self.heartbeat,
            "children": {
                c.spec.key: {
                    "label": c.spec.label,
                    "pid": c.proc.pid if c.proc is not None else None,
                    "state": c.state,
                    "restarts": c.restarts,
                    "last_exit": c.last_exit,
                    "since": dt.datetime.fromtimestamp(c.since, dt.UTC).isoformat(
                        timespec="seconds"
                    ),
                }
                for c in self.children
            },
        }

    def _write_state(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < self.heartbeat:
            return
        self._written = now
        path = self.home / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state(), indent=2))
        tmp.replace(path)

    @property
    def running(self) -> bool:
        return all(c.state == "running" and c.proc and c.proc.poll() is None for c in self.children)

    def stop(self, timeouts: Sequence[float] | None = None) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)
        with self._mutex:
            for i, child in enumerate(reversed(self.children)):
                timeout = timeouts[i] if timeouts and i < len(timeouts) else 15.0
                _stop_process(child.proc, timeout)
                child.state = "stopped"
        for logfile in self._logs:
            logfile.close()
        self._logs.clear()
        with contextlib.suppress(OSError):
            (self.home / STATE_FILE).unlink()
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None
