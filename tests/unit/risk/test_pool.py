"""The durable_rules worker pool: crashes cost a restart and one retry; batches fan out."""

from __future__ import annotations

import datetime as dt
import os
import signal

import pytest

from engine.definitions.contracts import load_contract_file
from engine.definitions.riskconfig import RiskConfig
from engine.domain.rules import RuleSet
from engine.risk.pool import DurableEvaluator
from engine.risk.python import PythonEvaluator
from tests.support import EXAMPLES, skip_without_durable


@pytest.fixture(autouse=True)
def _durable_loads() -> None:
    skip_without_durable()


def test_a_killed_worker_costs_a_restart_and_one_retry(
    shipped_rules: RuleSet, risk_config: RiskConfig
) -> None:
    evaluator = DurableEvaluator(shipped_rules, risk_config, workers=1)
    try:
        contract = load_contract_file(EXAMPLES / "SC-2026-0042.yaml", None)
        before = evaluator.evaluate([contract], dt.date(2027, 3, 1))
        os.kill(evaluator.worker_pids()[0], signal.SIGKILL)
        after = evaluator.evaluate([contract], dt.date(2027, 3, 1))
        assert after == before
        assert evaluator.restarts == 1
    finally:
        evaluator.close()


def test_a_batch_fans_out_over_two_workers_in_order(
    shipped_rules: RuleSet, risk_config: RiskConfig, python_backend: PythonEvaluator
) -> None:
    names = ["SC-2026-0042.yaml", "SC-2026-0051.yaml", "PO-2026-0107.yaml", "SC-2026-0060.json"]
    batch = [load_contract_file(EXAMPLES / n, None) for n in names] * 150
    evaluator = DurableEvaluator(shipped_rules, risk_config, workers=2)
    try:
        reports = evaluator.evaluate(batch, dt.date(2027, 3, 1))
        assert len(set(evaluator.worker_pids())) == 2
    finally:
        evaluator.close()
    assert reports == python_backend.evaluate(batch, dt.date(2027, 3, 1))
    assert evaluator.worker_pids() == []
