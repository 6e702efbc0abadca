"""Checks shared by the oracle and operator tests (a module of its own: both import it)."""

from __future__ import annotations

import json

from engine.domain.contract import Contract
from engine.domain.risk import Flag
from engine.domain.rules import RuleSet
from engine.risk.durable_compile import compile_rules
from engine.risk.durable_facts import FactCodec
from engine.risk.flags import build_flag
from engine.risk.python import PythonEvaluator
from engine.risk.values import Env


def assert_second_readings_agree(
    rules: RuleSet, batch: list[Contract], env: Env, flags: list[list[Flag]]
) -> None:
    """Two generated paths checked against the plain readings they replace:

    - the flags of the generated scoring function (messages, evidence, subjects, order)
      are the ones `flags.FlagBuilder` builds from the closures' hits;
    - the facts the durable workers render from the parent's value tuples are exactly
      `Plan.facts` (so the engine's input did not change with the faster path).
    """
    python = PythonEvaluator(rules, env.config)
    plan = compile_rules(rules)
    codec = FactCodec(plan)
    extract, render = codec.extractor(env), codec.renderer(codec.common(env))
    for n, (contract, got) in enumerate(zip(batch, flags, strict=True)):
        reference = sorted(
            (
                build_flag(hit, contract, env)
                for compiled in python._compiled
                for hit in compiled.hits(contract, env)
            ),
            key=lambda f: f.sort_key,
        )
        assert got == reference
        rendered = [json.loads(text) for text in render(str(n), extract(contract))]
        assert rendered == plan.facts(contract, env, str(n))
