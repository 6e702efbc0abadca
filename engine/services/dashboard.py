"""The portfolio at a glance: a handful of set-based counts, each one indexed query.

The numbers are computed in the database (GROUP BY), never by loading contracts, so the
page costs the same with ten contracts or a million.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from engine.domain.risk import Severity
from engine.services.runtime import Runtime
from engine.services.workflows import in_tracking_stage
from engine.store import models as m

CENT = Decimal("0.01")
SEVERITY_ORDER = ["critical", "high", "medium", "low", "none"]

WEEKS = 12


class Count(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    value: int


class CategoryFlags(BaseModel):
    """Current flags of one category, split by severity (low..critical)."""

    model_config = ConfigDict(frozen=True)

    category: str
    by_severity: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


class WeekBucket(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    starts_on: dt.date | None
    ends_on: dt.date | None
    value: int
    overdue: bool = False


class Money(BaseModel):
    """An amount in the base currency, with what it is (a label or a severity)."""

    model_config = ConfigDict(frozen=True)

    label: str
    amount: Decimal
    contracts: int = 0


class Dashboard(BaseModel):
    model_config = ConfigDict(frozen=True)

    as_of: dt.date
    base_currency: str = "CNY"
    #: Sum of the active contracts' amounts, in the base currency.
    active_value: Decimal = Decimal(0)
    #: Open `payment` obligations of counterparties past due, on signed contracts.
    overdue_receivables: Decimal = Decimal(0)
    #: Outstanding (SPEC section 7) of active sales, by the contract's highest severity.
    exposure_by_severity: list[Money] = []
    contracts_by_stage: list[Count]
    contracts_closed: int
    flags_by_category: list[CategoryFlags]
    obligations_by_week: list[WeekBucket]
    alerts: list[Count]
    open_tasks: int
    overdue_tasks: int


FLAG_SEVERITIES = [s.value for s in Severity if s is not Severity.NONE]


def dashboard(rt: Runtime) -> Dashboard:
    today = rt.today()
    now = rt.clock()
    with rt.db.reads() as session:
        stages = session.execute(
            select(m.Contract.stage, func.count())
            .where(m.Contract.status == "active")
            .group_by(m.Contract.stage)
            .order_by(func.count().desc(), m.Contract.stage)
        ).all()
        closed = session.scalar(
            select(func.count()).select_from(m.Contract).where(m.Contract.status == "closed")
        )
        flag_rows = session.execute(
            select(m.RiskFlag.category, m.RiskFlag.severity, func.count())
            .join(m.RiskEvaluation, m.RiskEvaluation.id == m.RiskFlag.evaluation_id)
            .join(m.Contract, m.Contract.id == m.RiskFlag.contract_id)
            .where(m.RiskEvaluation.current.is_(True), m.Contract.status == "active")
            .group_by(m.RiskFlag.category, m.RiskFlag.severity)
        ).all()
        horizon = today + dt.timedelta(days=7 * WEEKS)
        # obligations are live on signed contracts only (in review they are terms)
        live = in_tracking_stage(session)
        overdue = session.scalar(
            select(func.count())
            .select_from(m.Obligation)
            .join(m.Contract, m.Contract.id == m.Obligation.contract_id)
            .where(m.Obligation.status == "open", m.Obligation.due < today, live)
        )
        due_dates = session.execute(
            select(m.Obligation.due, func.count())
            .select_from(m.Obligation)
            .join(m.Contract, m.Contract.id == m.Obligation.contract_id)
            .where(
                m.Obligation.status == "open",
                m.Obligation.due >= today,
                m.Obligation.due < horizon,
                live,
            )
            .group_by(m.Obligation.due)
        ).all()
        money = _money(session, today, live)
        alerts = session.execute(
            select(m.OutboxMessage.status, func.count()).group_by(m.OutboxMessage.status)
        ).all()
        open_tasks = session.scalar(
            select(func.count()).select_from(m.Task).where(m.Task.status == "open")
        )
        overdue_tasks = session.scalar(
            select(func.count())
            .select_from(m.Task)
            .where(m.Task.status == "open", m.Task.due_at < now)
        )

    categories: dict[str, dict[str, int]] = {}
    for category, severity, count in flag_rows:
        categories.setdefault(category, dict.fromkeys(FLAG_SEVERITIES, 0))[severity] = count
    flags = sorted(
        (CategoryFlags(category=c, by_severity=s) for c, s in categories.items()),
        key=lambda f: (-f.total, f.category),
    )

    weeks = [
        WeekBucket(label="overdue", starts_on=None, ends_on=today, value=overdue or 0, overdue=True)
    ]
    per_week = [0] * WEEKS
    for due, count in due_dates:
        per_week[(due - today).days // 7] += count
    for i in range(WEEKS):
        start = today + dt.timedelta(days=7 * i)
        weeks.append(
            WeekBucket(
                label=f"{start:%d %b}",
                starts_on=start,
                ends_on=start + dt.timedelta(days=6),
                value=per_week[i],
            )
        )
    by_status = dict(alerts)
    return Dashboard(
        as_of=today,
        base_currency=rt.risk_config.base_currency,
        **money,
        contracts_by_stage=[Count(label=s, value=c) for s, c in stages],
        contracts_closed=closed or 0,
        flags_by_category=flags,
        obligations_by_week=weeks,
        alerts=[Count(label=s, value=by_status.get(s, 0)) for s in ("sent", "failed", "pending")],
        open_tasks=open_tasks or 0,
        overdue_tasks=overdue_tasks or 0,
    )


def _in_base() -> Any:
    """An obligation's amount in the base currency (at its contract's own rate)."""
    return m.Obligation.amount * m.Contract.amount_base / m.Contract.amount


def _money(session: Session, today: dt.date, live: ColumnElement[bool]) -> dict[str, Any]:
    """The amounts beside the counts: three grouped statements."""
    active_value = session.scalar(
        select(func.coalesce(func.sum(m.Contract.amount_base), 0)).where(
            m.Contract.status == "active"
        )
    )
    receivable = and_(m.Obligation.kind == "payment", m.Obligation.party == "counterparty")
    overdue = session.scalar(
        select(func.coalesce(func.sum(_in_base()), 0))
        .select_from(m.Obligation)
        .join(m.Contract, m.Contract.id == m.Obligation.contract_id)
        .where(
            receivable,
            m.Obligation.status == "open",
            m.Obligation.due < today,
            m.Obligation.amount.is_not(None),
            live,
        )
    )
    settled = (
        select(func.coalesce(func.sum(_in_base()), 0))
        .where(
            m.Obligation.contract_id == m.Contract.id,
            receivable,
            m.Obligation.status.in_(("fulfilled", "waived")),
            m.Obligation.amount.is_not(None),
        )
        .correlate(m.Contract)
        .scalar_subquery()
    )
    remaining = m.Contract.amount_base - settled
    outstanding = case((remaining > 0, remaining), else_=0)
    rows = session.execute(
        select(m.Contract.max_severity, func.sum(outstanding), func.count())
        .where(m.Contract.status == "active", m.Contract.direction == "sell")
        .group_by(m.Contract.max_severity)
    ).all()
    by_severity = {sev: (Decimal(str(total or 0)), int(n)) for sev, total, n in rows}
    return {
        "active_value": Decimal(str(active_value or 0)).quantize(CENT),
        "overdue_receivables": Decimal(str(overdue or 0)).quantize(CENT),
        "exposure_by_severity": [
            Money(
                label=sev, amount=by_severity[sev][0].quantize(CENT), contracts=by_severity[sev][1]
            )
            for sev in SEVERITY_ORDER
            if sev in by_severity
        ],
    }
