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
from engine.risk.durable_compile import compile_rules
from engine.risk.flags import Hit, build_flag, checksum_of, effective_params
from engine.risk.values import Env, items

log = logging.getLogger(__name__)

CHUNK = 250
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
        self.workers = workers
        self.restarts = 0
        self._checksum = checksum_of(rules, config)
        # Facts are built here and sent as plain data: pickling pydantic contracts cost
        # ~400 us each way per contract, more than the engine's own work.
        self._plan = compile_rules(rules)
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
        env = Env(as_of, effective_params(self.config, params), self.config)
        if not contracts:
            return []
        with self._lock:
            self._ensure()
            try:
                raw = self._run(list(contracts), env)
            except BaseException:
                # Other workers may still owe answers for this call: start afresh next time.
                self._stop_all()
                raise
        return [self._report(c, hits, env) for c, hits in zip(contracts, raw, strict=True)]

    def _run(self, contracts: list[Contract], env: Env) -> list[list[tuple[int, int, int]]]:
        size = max(1, min(CHUNK, -(-len(contracts) // len(self._pool))))
        chunks = [contracts[i : i + size] for i in range(0, len(contracts), size)]
        results: list[list[list[tuple[int, int, int]]] | None] = [None] * len(chunks)
        attempts = [0] * len(chunks)
        todo = list(range(len(chunks)))
        busy: dict[int, int] = {}  # worker index -> chunk index
        while todo or busy:
            for w in range(len(self._pool)):
                if w not in busy and todo:
                    n = todo.pop(0)
                    try:
                        self._pool[w].send([self._plan.facts(c, env, "") for c in chunks[n]])
                        busy[w] = n
                    except (OSError, EOFError, BrokenPipeError):
                        todo.insert(0, n)
                        self._crashed(w, n, attempts, todo, requeue=False)
            if not busy:
                continue
            ready = wait([self._pool[w].conn for w in busy])
            for w in [w for w in list(busy) if self._pool[w].conn in ready]:
                n = busy.pop(w)
                try:
                    kind, payload = self._pool[w].conn.recv()
                except (OSError, EOFError):
                    self._crashed(w, n, attempts, todo)
                    continue
                if kind != "ok":
                    raise RiskEngineError(f"the rules engine failed: {payload}")
                results[n] = payload
        return [hits for chunk in results if chunk is not None for hits in chunk]

    def _crashed(
        self, w: int, n: int, attempts: list[int], todo: list[int], requeue: bool = True
    ) -> None:
        """Restart the dead worker; retry its chunk once."""
        attempts[n] += 1
        self.restarts += 1
        log.warning("risk worker %d died (chunk %d, attempt %d); restarting", w, n, attempts[n])
        with contextlib.suppress(OSError):
            self._pool[w].stop()
        self._pool[w] = _Worker(self.rules, self.config)
        if attempts[n] > 1:
            raise RiskEngineError(
                "the rules engine worker crashed twice on the same contracts; giving up"
            )
        if requeue:
            todo.insert(0, n)

    def _report(self, contract: Contract, hits: list[tuple[int, int, int]], env: Env) -> RiskReport:
        flags = []
        for r, band, item in hits:
            rule = self.rules.rules[r]
            ctx = None
            if item >= 0 and rule.for_each is not None:
                ctx = (items(contract, rule.for_each)[item], item)
            flags.append(build_flag(Hit(rule, band, ctx), contract, env))
        flags.sort(key=lambda f: f.sort_key)
        return RiskReport(
            contract=contract.id, as_of=env.as_of, flags=flags, ruleset_checksum=self._checksum
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
