"""Builds the configured risk evaluator (CONTRACTFLOW_RISK_BACKEND = durable | python)."""

from __future__ import annotations

import logging
import platform

from engine.domain.riskconfig import RiskConfig
from engine.domain.rules import RuleSet
from engine.risk.base import RiskEvaluator
from engine.settings import Settings

log = logging.getLogger("contractflow.risk")


def make_evaluator(settings: Settings, config: RiskConfig, rules: RuleSet) -> RiskEvaluator:
    """durable_rules in `risk_workers` worker processes (started on first use), or the
    plain-Python predicates compiled from the same rules. Where durable_rules cannot load
    (Python 3.13: engine.risk.availability) the Python backend runs, said in one line."""
    if settings.risk_backend == "durable":
        from engine.risk.availability import durable_problem

        problem = durable_problem()
        if problem is not None:
            log.warning(
                "risk: durable_rules cannot load on Python %s (%s); using the Python "
                "backend (same rules, same flags)",
                platform.python_version(),
                problem,
            )
            settings = settings.model_copy(update={"risk_backend": "python"})
    if settings.risk_backend == "python":
        from engine.risk.python import PythonEvaluator

        return PythonEvaluator(rules, config)
    from engine.risk.pool import DurableEvaluator

    return DurableEvaluator(rules, config, workers=settings.risk_workers)
