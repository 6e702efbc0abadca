"""Both backends, built once per module from the shipped rules and config/risk.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.definitions.riskconfig import RiskConfig, load_risk_config
from engine.definitions.rules import load_rule_dir
from engine.domain.rules import RuleSet
from engine.risk.pool import DurableEvaluator
from engine.risk.python import PythonEvaluator
from engine.settings import PROJECT_ROOT
from tests.support import skip_without_durable


@pytest.fixture(scope="session")
def risk_config() -> RiskConfig:
    return load_risk_config(PROJECT_ROOT / "config" / "risk.yaml")


@pytest.fixture(scope="session")
def shipped_rules(risk_config: RiskConfig) -> RuleSet:
    return load_rule_dir(PROJECT_ROOT / "rules", risk_config.parameters)


@pytest.fixture(scope="session")
def python_backend(shipped_rules: RuleSet, risk_config: RiskConfig) -> PythonEvaluator:
    return PythonEvaluator(shipped_rules, risk_config)


@pytest.fixture(scope="session")
def durable_backend(shipped_rules: RuleSet, risk_config: RiskConfig) -> Iterator[DurableEvaluator]:
    skip_without_durable()  # Python 3.13: the product runs the Python backend there
    evaluator = DurableEvaluator(shipped_rules, risk_config, workers=1)
    yield evaluator
    evaluator.close()


@pytest.fixture(params=["python", "durable"])
def backend(
    request: pytest.FixtureRequest,
    python_backend: PythonEvaluator,
    durable_backend: DurableEvaluator,
) -> PythonEvaluator | DurableEvaluator:
    return python_backend if request.param == "python" else durable_backend
