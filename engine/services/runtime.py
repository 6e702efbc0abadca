"""The product wired together for one process: settings, database, loaded definitions.

Interfaces build one `Runtime` and pass it to services. Expensive parts (risk config, the
evaluator) load on first use so that a command pays only for what it touches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from engine.definitions.riskconfig import RiskConfig, load_risk_config
from engine.services.audit_key import SESSION_INFO as AUDIT_KEY_INFO
from engine.services.audit_key import AuditKey
from engine.settings import Settings, get_settings
from engine.store.db import Database

if TYPE_CHECKING:
    from engine.domain.rules import RuleSet
    from engine.risk.base import RiskEvaluator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Runtime:
    """Settings + database + definitions. `clock` is injectable so tests can move time."""

    def __init__(
        self,
        settings: Settings | None = None,
        db: Database | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.settings = settings or get_settings()
        self.db = db or Database(self.settings.database_url)
        self.clock = clock
        self.audit_key = AuditKey(self.settings)
        self.db.session_info[AUDIT_KEY_INFO] = self.audit_key
        self._evaluator: RiskEvaluator | None = None

    @cached_property
    def risk_config(self) -> RiskConfig:
        return load_risk_config(
            self.settings.config_dir / "risk.yaml", base_currency=self.settings.base_currency
        )

    def today(self) -> dt.date:
        return self.clock().date()

    @property
    def evaluator(self) -> RiskEvaluator:
        """The configured risk backend, started on first use and closed with the runtime."""
        if self._evaluator is None:
            from engine.risk.factory import make_evaluator

            self._evaluator = make_evaluator(self.settings, self.risk_config, self.rules)
        return self._evaluator

    @property
    def rules(self) -> RuleSet:
        """The rule set in force: the one `init` stored last, else the files in rules/."""
        from engine.services.rules import active_rules

        return active_rules(self)

    def set_evaluator(self, evaluator: RiskEvaluator) -> None:
        """Use a given evaluator (tests route with evaluators built for the case)."""
        self._evaluator = evaluator

    def close(self) -> None:
        if self._evaluator is not None:
            self._evaluator.close()
            self._evaluator = None
        self.db.dispose()
