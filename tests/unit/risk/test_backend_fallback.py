"""durable_rules where it loads, the Python backend where it cannot (Python 3.13), said in
one line (issue 19 item 5). Runs meaningfully on both: `make test` (3.11) takes the first
branch, `make test-py313` the second."""

from __future__ import annotations

import logging
import sys

import pytest

from engine.domain.riskconfig import RiskConfig
from engine.domain.rules import RuleSet
from engine.risk.availability import durable_problem
from engine.risk.factory import make_evaluator
from engine.settings import Settings


def test_the_configured_durable_backend_runs_durable_rules_where_it_loads_else_python(
    risk_config: RiskConfig, shipped_rules: RuleSet, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(_env_file=None, risk_backend="durable")
    with caplog.at_level(logging.WARNING, logger="contractflow.risk"):
        evaluator = make_evaluator(settings, risk_config, shipped_rules)
    try:
        problem = durable_problem()
        if problem is None:
            assert type(evaluator).__name__ == "DurableEvaluator"
            assert caplog.records == []
        else:
            assert sys.version_info >= (3, 13) or "not installed" in problem
            assert type(evaluator).__name__ == "PythonEvaluator"
            [record] = caplog.records
            assert record.getMessage().startswith(
                f"risk: durable_rules cannot load on Python {sys.version.split()[0]} ("
            )
            assert "using the Python backend" in record.getMessage()
    finally:
        evaluator.close()


@pytest.mark.skipif(sys.version_info < (3, 13), reason="durable_rules loads before 3.13")
def test_on_python_3_13_durable_rules_is_reported_as_not_loading() -> None:
    problem = durable_problem()
    assert problem is not None and "PyEval_CallObject" in problem
