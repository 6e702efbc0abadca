"""Builds the configured risk evaluator (CONTRACTFLOW_RISK_BACKEND)."""

from __future__ import annotations

from engine.definitions.riskconfig import RiskConfig
from engine.errors import ContractflowError
from engine.risk.base import RiskEvaluator
from engine.settings import Settings


def make_evaluator(settings: Settings, config: RiskConfig) -> RiskEvaluator:
    raise ContractflowError("the risk rules engine is not built yet (issue 4)")
