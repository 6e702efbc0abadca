"""durable_rules, hosted the one way that gives correct results (notes/durable_rules.md).

The only module that imports durable_rules. `DurableSession` runs in a worker process
(`engine.risk.pool`), one calling thread, with a Host whose background timer threads are
off. Per contract: a fresh sid, item facts then the contract fact (facts, never events),
every action the engine makes ready started and completed inside the call that caused it,
and `delete_state` afterwards, always. No Python action runs inside the engine (an action
is recorded from its message), so there is no swallowed exception to look for; an error
of the engine itself raises from its call and costs the worker (restart, one retry).

The worker receives plain value tuples per contract (`engine.risk.durable_facts`) and
renders the facts itself; it answers hits (rule, band, item), from which the parent builds
the flags.
"""

# isort: skip_file
from __future__ import annotations

# The worker process imports this module first thing, so the C extension loads before any
# other (a precaution: it is fragile; see the `SEEN` rule in durable_compile for the crash
# we did pin down). Nothing else in the product imports it.
from durable import engine as durable_engine
import durable_rules_engine

import itertools
import json
import os
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from engine.domain.contract import Contract
from engine.domain.riskconfig import RiskConfig
from engine.domain.rules import RuleSet
from engine.risk.durable_compile import SEEN, Plan, compile_rules
from engine.risk.durable_facts import FactCodec
from engine.risk.values import Env

#: A hit as the worker reports it: (rule index, band, item index or -1).
RawHit = tuple[int, int, int]


_assert_fact = durable_rules_engine.assert_fact
_start_action_for_state = durable_rules_engine.start_action_for_state
_update_state = durable_rules_engine.update_state
_complete_and_start_action = durable_rules_engine.complete_and_start_action
_delete_state = durable_rules_engine.delete_state
_loads = json.loads


class _QuietHost(durable_engine.Host):
    """The stock host polls on 0.2 s timer threads, so a call could return before its
    actions ran; with `_run` off every action runs inside the call that caused it."""

    def _run(self) -> None:
        return None


class EngineFailure(RuntimeError):
    """An action raised inside durable_rules (it swallows it into `state["exception"]`)."""


class DurableSession:
    """One host with the compiled rulesets; evaluates contracts one sid at a time.

    The rulesets are registered through the stock `Host` (it compiles them); evaluation
    then drives the engine's own calls (`durable_rules_engine`) the way `Host.assert_fact`
    and `Ruleset.do_actions` do - assert the fact, then start, update and complete every
    action it made ready, then `delete_state` - without the per-call Python layer that cost
    more than the engine: the fact goes in as the JSON text the worker rendered (no
    `json.dumps` of a dict), and an action is recorded from its message (rule name and the
    item's index) instead of running a Python closure through `Promise`/`Closure`.
    """

    def __init__(self, rules: RuleSet, config: RiskConfig, tag: str = "cf") -> None:
        self.plan: Plan = compile_rules(rules)
        self.codec = FactCodec(self.plan)
        self.config = config
        self._sids = itertools.count(1)
        self._host = _QuietHost()
        self._handles: list[int] = []
        for n, ruleset in enumerate(self.plan.rulesets):
            name = f"{tag}_{rules.checksum}_{n}"
            # The stock actions are never called (see `_run_actions`); Ruleset wants one.
            definition = {rule: dict(body, run=_never) for rule, body in ruleset.items()}
            self._host.register_rulesets({name: definition})
            self._handles.append(self._host.get_ruleset(name)._handle)
        # durable rule name -> (rule index, band, per item?) ; the SEEN rule -> None
        self._meaning: dict[str, tuple[int, int, bool] | None] = {SEEN: None}
        for rule, action in self.plan.actions.items():
            self._meaning[rule] = (action.rule, action.band, action.per_item)

    def evaluate(self, contracts: Sequence[Contract], env: Env) -> list[list[RawHit]]:
        """In-process evaluation (tests, the benchmark's engine-only figure)."""
        extract = self.codec.extractor(env)
        return self.evaluate_extracted(self.codec.common(env), [extract(c) for c in contracts])

    def evaluate_extracted(self, common: Any, batch: Sequence[Any]) -> list[list[RawHit]]:
        """Each entry: one contract's values (`FactCodec.extractor`); `common` the batch's."""
        render = self.codec.renderer(common)
        out = []
        for data in batch:
            sid = str(next(self._sids))
            out.append(self._one(sid, render(sid, data)))
        return out

    def _one(self, sid: str, facts: list[str]) -> list[RawHit]:
        fired: list[tuple[str, Any]] = []
        for handle in self._handles:
            try:
                for fact in facts:
                    result = _assert_fact(handle, fact)
                    code = result[0]
                    if code == 1:  # MessageNotHandledException: nothing matched this fact
                        continue
                    if code == 2:  # MessageObservedException
                        raise EngineFailure(f"fact asserted twice: {fact[:200]}")
                    _run_actions(handle, result[1] if code != 3 else 0, fired)
            finally:
                _delete_state(handle, sid)
        meaning = self._meaning
        best: dict[tuple[int, int], int] = {}
        for rule, bindings in fired:
            found = meaning[rule]
            if found is None:
                continue
            r, band, per_item = found
            item = int(bindings["m"]["i"]) if per_item else -1
            key = (r, item)
            best[key] = min(best.get(key, band), band)
        return sorted((r, band, item) for (r, item), band in best.items())


def _never(c: Any) -> None:
    raise EngineFailure("a stock durable_rules action ran; this host records actions itself")


def _run_actions(handle: int, state_handle: int, fired: list[tuple[str, Any]]) -> None:
    """`Ruleset.do_actions` + `_flush_actions` for actions that only record what fired.

    The stock loop writes the (unchanged) state back with `update_state` before completing
    each action; so does this one, with the state text the engine handed out.
    """
    result = _start_action_for_state(handle, state_handle)
    if not result:
        return
    state, message = result[0], result[1]
    while message:
        # {"rule name": {pattern name: fact, ...}}, as `_flush_actions` reads it.
        for name, bindings in _loads(message).items():
            fired.append((name, bindings))
            break
        _update_state(handle, state)
        message = _complete_and_start_action(handle, state_handle)


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
            hits = session.evaluate_extracted(message[0], message[1])
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
