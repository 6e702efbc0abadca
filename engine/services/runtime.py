"""The product wired together for one process: settings, database, loaded definitions.

Interfaces build one `Runtime` and pass it to services. Expensive parts (risk config, the
evaluator) load on first use so that a command pays only for what it touches.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from engine.definitions.riskconfig import RiskConfig, load_risk_config
from engine.services.audit_key import SESSION_INFO as AUDIT_KEY_INFO
from engine.services.audit_key import AuditKey
from engine.settings import Settings, get_settings
from engine.store.db import Database
from engine.workflow.calendar import BusinessCalendar

if TYPE_CHECKING:
    from engine.domain.rules import RuleSet
    from engine.risk.base import RiskEvaluator


log = logging.getLogger(__name__)

#: How far ahead `check_calendar` looks: the years a deadline computed in the next month
#: can fall in (later years are still told about when first needed).
CALENDAR_HORIZON = dt.timedelta(days=31)


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
        #: Where warnings for the operator go (the CLI prints them on stderr; serving logs).
        self.warn: Callable[[str], None] = log.warning

    @cached_property
    def risk_config(self) -> RiskConfig:
        return load_risk_config(
            self.settings.config_dir / "risk.yaml", base_currency=self.settings.base_currency
        )

    @cached_property
    def calendar(self) -> BusinessCalendar:
        """Business days for SLAs: the official calendar with risk.yaml's overrides, in
        local days. A year without an official calendar is told once, through `warn`."""
        cfg = self.risk_config
        return BusinessCalendar(
            official=cfg.business_calendar,
            holidays=cfg.holidays,
            workdays=cfg.workdays,
            zone=self.settings.zone,
            warn=lambda line: self.warn(line),
        )

    def check_calendar(self) -> None:
        """At start-up: tell now (through `warn`) about any year that deadlines computed
        in the coming month may fall in and that has no official calendar yet."""
        today = self.today()
        for year in range(today.year, (today + CALENDAR_HORIZON).year + 1):
            self.calendar.prepare(year)

    def today(self) -> dt.date:
        """Today where the business is (`CONTRACTFLOW_TIMEZONE`): due dates, alert levels
        and fulfilment dates count in local days, while stored times stay UTC."""
        return self.clock().astimezone(self.settings.zone).date()

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

    @property
    def has_evaluator(self) -> bool:
        """Whether the evaluator is built (using it inside a transaction is safe only then:
        building it reads the stored rule set in a transaction of its own)."""
        return self._evaluator is not None

    def set_evaluator(self, evaluator: RiskEvaluator) -> None:
        """Use a given evaluator (tests route with evaluators built for the case)."""
        self._evaluator = evaluator

    def close(self) -> None:
        if self._evaluator is not None:
            self._evaluator.close()
            self._evaluator = None
        self.db.dispose()
