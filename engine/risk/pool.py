"""`DurableEvaluator`: durable_rules in worker processes owned by the evaluator.

The engine is a C extension that has segfaulted under misuse (notes/durable_rules.md), so
it never runs in the caller's process or a web-server thread. A worker that dies costs a
restart and one retry of its chunk, counted in `restarts` and logged; a second failure of
the same chunk is an error. Batches are cut into chunks and fanned out over the workers.
Workers start on first use, so building an evaluator (or `contractflow --help`) is cheap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from multiprocessing.connection import Connection, wait
from typing import Any

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport
from engine.domain.riskconfig import RiskConfig
from engine.domain.rules import RuleSet
from engine.errors import ContractflowError
from engine.risk.base import collector_paused
from engine.risk.durable_compile import compile_rules
from engine.risk.durable_facts import FactCodec
from engine.risk.flags import check_as_of, checksum_of, day_params, effective_params, new_report
from engine.risk.program import compile_program
from engine.risk.values import Env, items

log = logging.getLogger(__name__)

CHUNK = 250
#: Chunks sent to a worker ahead of its answers (it reads the next while we extract).
IN_FLIGHT = 2
#: Pipe capacity asked of Linux for the pipe to a worker, so sending a chunk ahead does not
#: block the parent while the worker is busy (a chunk is ~80 KB; the default pipe 64 KB).
PIPE_BYTES = 1 << 20
START_TIMEOUT_S = 60.0


class RiskEngineError(ContractflowError):
    """The rules engine failed twice on the same contracts (or could not start)."""

    exit_code = 1
    http_status = 503


class _Worker:
    """One `python -m engine.risk.durable` process, spoken to with pickles over its pipes.

    A plain subprocess rather than multiprocessing: nothing of the caller (its `__main__`,
    its threads, a web server's sockets) is re-imported or forked into the engine's process.
    """

    def __init__(self, rules: RuleSet, config: RiskConfig) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.risk.durable"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with contextlib.suppress(OSError, AttributeError):  # Linux only; a hint, not a need
            fcntl.fcntl(self.proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self.writer = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.conn = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self.proc.stdin.close()
        self.proc.stdout.close()
        try:
            self.writer.send((rules, config))
            ready = self.conn.poll(START_TIMEOUT_S)
            kind, payload = self.conn.recv() if ready else ("error", "no answer")
        except (OSError, EOFError) as exc:
            kind, payload = "error", f"{type(exc).__name__}: {exc}"
        if kind != "ready":
            self.stop()
            raise RiskEngineError(f"the rules engine worker did not start: {payload}")

    def send(self, message: Any) -> None:
        self.writer.send(message)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError, ValueError):
            self.writer.send(None)
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=2)
        self.writer.close()
        self.conn.close()


class DurableEvaluator:
    """`RiskEvaluator` on durable_rules in `workers` processes."""

    def __init__(self, rules: RuleSet, config: RiskConfig, workers: int = 1) -> None:
        self.rules = rules
        self.config = config
        self._day_params = day_params(rules)
        self.workers = workers
        self.restarts = 0
        self._checksum = checksum_of(rules, config)
        # The parent only extracts the values the patterns read (a tuple of plain values
        # per contract; pickling pydantic contracts cost ~400 us each way); the workers
        # render the facts and run the engine, and the parent builds the flags of what
        # fired with the same generated code as the Python backend.
        self._plan = compile_rules(rules)
        self._codec = FactCodec(self._plan)
        self._program = compile_program(rules)
        self._bound: tuple[Env, Any, Any] | None = None
        self._pool: list[_Worker] = []
        self._lock = threading.Lock()

    @property
    def checksum(self) -> str:
        return self._checksum

    def _ensure(self) -> None:
        while len(self._pool) < self.workers:
            self._pool.append(_Worker(self.rules, self.config))

    def evaluate(
        self,
        contracts: Sequence[Contract],
        as_of: dt.date,
        params: Mapping[str, Decimal] | None = None,
    ) -> list[RiskReport]:
        check_as_of(as_of)
        env = Env(as_of, effective_params(self.config, params, self._day_params), self.config)
        if not contracts:
            return []
        extract, emitters = self._bind(env)
        contracts = list(contracts)

        def reports(chunk: list[Contract], hits: list[list[tuple[int, int, int]]]) -> Any:
            # Built while the workers score the chunks still out (the parent's share).
            with collector_paused():
                return [self._report(c, h, env, emitters) for c, h in zip(chunk, hits, strict=True)]

        with self._lock:
            self._ensure()
            try:
                return self._run(contracts, env, extract, reports)
            except BaseException:
                # Other workers may still owe answers for this call: start afresh next time.
                self._stop_all()
                raise

    def _bind(self, env: Env) -> tuple[Any, Any]:
        bound = self._bound
        if bound is None or bound[0] != env:
            extract = self._codec.extractor(env)
            emitters = self._program.emitters(env.params, env.as_of, env)
            bound = (env, extract, emitters)
            self._bound = bound
        return bound[1], bound[2]

    def _run(
        self, contracts: list[Contract], env: Env, extract: Any, reports: Any
    ) -> list[RiskReport]:
        """Chunks go out as (batch thresholds, [values per contract]); each worker gets
        up to `IN_FLIGHT` chunks ahead, so it never waits while the parent extracts."""
        size = max(1, min(CHUNK, -(-len(contracts) // len(self._pool))))
        chunks = [contracts[i : i + size] for i in range(0, len(contracts), size)]
        common = self._codec.common(env)
        payloads: dict[int, Any] = {}
        results: list[list[RiskReport] | None] = [None] * len(chunks)
        attempts = [0] * len(chunks)
        todo = list(range(len(chunks)))
        busy: dict[int, list[int]] = {w: [] for w in range(len(self._pool))}
        while todo or any(busy.values()):
            for w in range(len(self._pool)):
                while len(busy[w]) < IN_FLIGHT and todo:
                    n = todo.pop(0)
                    if n not in payloads:
                        with collector_paused():
                            payloads[n] = (common, [extract(c) for c in chunks[n]])
                    try:
                        self._pool[w].send(payloads[n])
                        busy[w].append(n)
                    except (OSError, EOFError, BrokenPipeError):
                        todo.insert(0, n)
                        self._crashed(w, busy, attempts, todo, failed=n)
                        break
            if not any(busy.values()):
                continue
            ready = wait([self._pool[w].conn for w in busy if busy[w]])
            for w in [w for w in busy if busy[w] and self._pool[w].conn in ready]:
                try:
                    kind, payload = self._pool[w].conn.recv()
                except (OSError, EOFError):
                    self._crashed(w, busy, attempts, todo, failed=busy[w][0])
                    continue
                n = busy[w].pop(0)
                if kind != "ok":
                    raise RiskEngineError(f"the rules engine failed: {payload}")
                payloads.pop(n, None)
                # Keep the workers fed before building this chunk's reports.
                while len(busy[w]) < IN_FLIGHT and todo:
                    m = todo.pop(0)
                    with collector_paused():
                        payloads[m] = (common, [extract(c) for c in chunks[m]])
                    try:
                        self._pool[w].send(payloads[m])
                        busy[w].append(m)
                    except (OSError, EOFError, BrokenPipeError):
                        todo.insert(0, m)
                        break
                results[n] = reports(chunks[n], payload)
        return [report for chunk in results if chunk is not None for report in chunk]

    def _crashed(
        self, w: int, busy: dict[int, list[int]], attempts: list[int], todo: list[int], failed: int
    ) -> None:
        """Restart the dead worker; retry its chunks (the one it died on at most once)."""
        attempts[failed] += 1
        self.restarts += 1
        log.warning(
            "risk worker %d died (chunk %d, attempt %d); restarting", w, failed, attempts[failed]
        )
        with contextlib.suppress(OSError):
            self._pool[w].stop()
        self._pool[w] = _Worker(self.rules, self.config)
        if attempts[failed] > 1:
            raise RiskEngineError(
                "the rules engine worker crashed twice on the same contracts; giving up"
            )
        for n in reversed(busy[w]):
            if n not in todo:
                todo.insert(0, n)
        busy[w] = []

    def _report(
        self, contract: Contract, hits: list[tuple[int, int, int]], env: Env, emitters: Any
    ) -> RiskReport:
        flags = []
        rules = self.rules.rules
        for r, band, item in hits:
            coll = rules[r].for_each
            x = None
            if item >= 0 and coll is not None:
                x = items(contract, coll)[item]
            flags.append(emitters[r](contract, band, x, item))
        if len(flags) > 1:
            flags.sort(key=lambda f: f.sort_key)
        return new_report(
            {
                "contract": contract.id,
                "as_of": env.as_of,
                "flags": flags,
                "ruleset_checksum": self._checksum,
            }
        )

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._pool]

    def _stop_all(self) -> None:
        for worker in self._pool:
            with contextlib.suppress(OSError):
                worker.stop()
        self._pool.clear()

    def close(self) -> None:
        with self._lock:
            self._stop_all()

    def __del__(self) -> None:
        try:
            for worker in self._pool:
                if worker.proc.poll() is None:
                    worker.proc.kill()
        except Exception:  # noqa: S110 - interpreter shutdown: best effort only
            pass
