"""Builds the configured risk evaluator (CONTRACTFLOW_RISK_BACKEND = durable | python)."""

from __future__ import annotations

from engine.domain.riskconfig import RiskConfig
from engine.domain.rules import RuleSet
from engine.risk.base import RiskEvaluator
from engine.settings import Settings


def make_evaluator(settings: Settings, config: RiskConfig, rules: RuleSet) -> RiskEvaluator:
    """durable_rules in `risk_workers` worker processes (started on first use), or the
    plain-Python predicates compiled from the same rules."""
    if settings.risk_backend == "python":
        from engine.risk.python import PythonEvaluator

        return PythonEvaluator(rules, config)
    from engine.risk.pool import DurableEvaluator

    return DurableEvaluator(rules, config, workers=settings.risk_workers)
