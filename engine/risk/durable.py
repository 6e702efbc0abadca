"""durable_rules, hosted the one way that gives correct results (notes/durable_rules.md).

The only module that imports durable_rules. `DurableSession` runs in a worker process
(`engine.risk.pool`), one calling thread, with a Host whose background timer threads are
off. Per contract: a fresh sid, item facts then the contract fact (facts, never events),
the exception slot checked after every call, and `delete_state` afterwards, always.
"""

# isort: skip_file
from __future__ import annotations

# The worker process imports this module first thing, so the C extension loads before any
# other (a precaution: it is fragile; see the `SEEN` rule in durable_compile for the crash
# we did pin down). Nothing else in the product imports it.
from durable import engine as durable_engine
from durable.engine import MessageNotHandledException

import itertools
import os
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from engine.domain.contract import Contract
from engine.domain.riskconfig import RiskConfig
from engine.domain.rules import RuleSet
from engine.risk.durable_compile import SEEN, Plan, compile_rules
from engine.risk.values import Env

#: A hit as the worker reports it: (rule index, band, item index or -1).
RawHit = tuple[int, int, int]


class _QuietHost(durable_engine.Host):
    """The stock host polls on 0.2 s timer threads, so a call could return before its
    actions ran; with `_run` off every action runs inside the call that caused it."""

    def _run(self) -> None:
        return None


class EngineFailure(RuntimeError):
    """An action raised inside durable_rules (it swallows it into `state["exception"]`)."""


class DurableSession:
    """One host with the compiled rulesets; evaluates contracts one sid at a time."""

    def __init__(self, rules: RuleSet, config: RiskConfig, tag: str = "cf") -> None:
        self.plan: Plan = compile_rules(rules)
        self.config = config
        self._hits: list[tuple[str, int]] = []
        self._sids = itertools.count(1)
        self._host = _QuietHost()
        self._names: list[str] = []
        for n, ruleset in enumerate(self.plan.rulesets):
            name = f"{tag}_{rules.checksum}_{n}"
            definition = {
                rule: dict(body, run=self._action(rule)) for rule, body in ruleset.items()
            }
            self._host.register_rulesets({name: definition})
            self._names.append(name)

    def _action(self, rule: str) -> Any:
        hits = self._hits

        if rule == SEEN:
            return lambda c: None
        per_item = self.plan.actions[rule].per_item

        def run(c: Any) -> None:
            hits.append((rule, int(c.m["i"]) if per_item else -1))

        return run

    def evaluate(self, contracts: Sequence[Contract], env: Env) -> list[list[RawHit]]:
        return self.evaluate_facts([self.plan.facts(c, env, "") for c in contracts])

    def evaluate_facts(self, batch: Sequence[list[dict[str, Any]]]) -> list[list[RawHit]]:
        """Each entry: one contract's facts (`Plan.facts`), items first, contract last."""
        return [self._one(facts) for facts in batch]

    def _one(self, facts: list[dict[str, Any]]) -> list[RawHit]:
        sid = str(next(self._sids))
        for fact in facts:
            fact["sid"] = sid
        self._hits.clear()
        for name in self._names:
            try:
                for fact in facts:
                    try:
                        state = self._host.assert_fact(name, fact)
                    except MessageNotHandledException:
                        continue
                    if state and "exception" in state:
                        raise EngineFailure(str(state["exception"]).splitlines()[0][:300])
            finally:
                self._host.delete_state(name, sid)
        best: dict[tuple[int, int], int] = {}
        for rule, item in self._hits:
            action = self.plan.actions[rule]
            key = (action.rule, item)
            best[key] = min(best.get(key, action.band), action.band)
        return sorted((r, band, item) for (r, item), band in best.items())


def worker_main(reader: Connection, writer: Connection) -> None:
    """A worker process: receive (contracts, as_of, params), answer hits or an error text."""
    rules, config = reader.recv()
    try:
        session = DurableSession(rules, config)
    except Exception as exc:  # report, do not hang the parent
        writer.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    writer.send(("ready", session.plan.rule_count))
    while True:
        try:
            message = reader.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            hits = session.evaluate_facts(message)
        except EngineFailure as exc:
            writer.send(("error", str(exc)))
            continue
        writer.send(("ok", hits))


def main() -> None:
    """`python -m engine.risk.durable`: the pool talks to us over stdin/stdout."""
    reader = Connection(os.dup(0), writable=False)
    writer = Connection(os.dup(1), readable=False)
    # Anything printed by accident must not corrupt the pickles on stdout.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker_main(reader, writer)


if __name__ == "__main__":
    main()
