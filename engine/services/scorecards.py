"""Fulfilment scorecards: who fulfils their contracts' obligations on time, per owner or team.

Every number is computed by the database in a handful of grouped statements (one per
kind of fact: contracts, obligations, signing cycle, escalations, flags), never by
loading obligations, so a year over a million obligations costs a few index scans. The
rows are then merged by owner (or team) in Python: one dict entry per person, not per
obligation.

Definitions (docs/scorecards.md says the same in prose):

- *due in the period*: the obligation's due date is in [from, to]; waived obligations are
  out of every count, and so are obligations of contracts not yet signed (in review an
  obligation is a term under discussion, not a promise);
- *on time*: fulfilled on or before its due date;
- *late*: fulfilled after its due date, by the end of the period;
- *overdue open*: still open at the end of the period (not fulfilled by `to`) with its
  due date before that end (before `to` + 1 day, or before today while the period
  reaches into the future: what is due today is not overdue yet);
- `on_time_rate` = on time / (on time + late + overdue open) as a percentage with one
  decimal, null when that is zero;
- `overdue_amount`: the overdue open obligations' amounts in the base currency;
- `median_cycle_days`: the median, over contracts signed in the period, of the days from
  the first submission to the approval that reached a stage tracking obligations;
- `contracts_active`: active contracts whose term overlaps the period;
- `tasks_escalated`: tasks of the owner's contracts escalated in the period;
- `high_flags`: current flags of severity high or critical on those active contracts.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import Label

from engine.documents.spreadsheet import Column, csv_bytes, xlsx_bytes
from engine.errors import InvalidInput
from engine.services import access
from engine.services.auth import Principal
from engine.services.runtime import Runtime
from engine.services.workflows import spec_for
from engine.store import models as m

By = Literal["owner", "team"]
DEFAULT_DAYS = 90
CENT = Decimal("0.01")
HIGH = ("high", "critical")


class ScorecardRow(BaseModel):
    """One owner (or team) over the period; `owner` or `team` names it (the other is
    left out of the printed row)."""

    model_config = ConfigDict(frozen=True)

    owner: str | None = None
    team: str | None = None
    contracts_active: int = 0
    obligations_due: int = 0
    fulfilled_on_time: int = 0
    fulfilled_late: int = 0
    overdue_open: int = 0
    on_time_rate: float | None = None
    overdue_amount: Decimal = Decimal("0.00")
    median_cycle_days: float | None = None
    tasks_escalated: int = 0
    high_flags: int = 0

    def printed(self, by: By) -> dict[str, Any]:
        """The row as commands and the API print it: `owner` or `team` first."""
        data = self.model_dump(mode="json")
        data.pop("team" if by == "owner" else "owner")
        return data


class MonthAmount(BaseModel):
    model_config = ConfigDict(frozen=True)

    month: str  # YYYY-MM
    overdue_amount: Decimal


class Scorecard(BaseModel):
    model_config = ConfigDict(frozen=True)

    by: By
    period_from: dt.date
    period_to: dt.date
    base_currency: str = "CNY"
    rows: list[ScorecardRow]


def period(today: dt.date, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The period asked for; by default the last 90 days up to and including today."""
    end = end or today
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidInput([f"--from: {start} is after --to {end}"])
    return start, end


def scorecard(
    rt: Runtime,
    who: Principal | None,
    *,
    by: By = "owner",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Scorecard:
    """The ranked scorecard rows over the contracts `who` may see (None: the operator at
    the command line without --as, who sees everything)."""
    if by not in ("owner", "team"):
        raise InvalidInput([f"--by: {by!r} is not one of owner, team"])
    today = rt.today()
    start, end = period(today, start, end)
    with rt.db.reads() as session:
        visible = _visible(session, who, today)
        rows = compute_rows(session, by, start, end, today, rt.settings.zone, visible)
    return Scorecard(
        by=by,
        period_from=start,
        period_to=end,
        base_currency=rt.risk_config.base_currency,
        rows=rank(rows),
    )


def _visible(session: Session, who: Principal | None, today: dt.date) -> ColumnElement[bool]:
    return true() if who is None else access.visible_contracts(session, who, today)


def rank(rows: list[ScorecardRow]) -> list[ScorecardRow]:
    """Best first: highest on-time rate (no rate last), then least overdue, then name."""
    return sorted(
        rows,
        key=lambda r: (
            r.on_time_rate is None,
            -(r.on_time_rate or 0.0),
            r.overdue_amount,
            (r.owner or r.team or "\uffff"),
        ),
    )


def _bounds(start: dt.date, end: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The period's first and one-past-last moment in UTC (days are the business's days)."""
    first = dt.datetime.combine(start, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return first, after.astimezone(dt.UTC)


def group_key(by: By) -> Label[Any]:
    return (m.User.username if by == "owner" else m.User.team).label("key")


def past_signing(session: Session) -> ColumnElement[bool]:
    """A WHERE clause over `contracts`: signed (closed, or active/terminated in a stage that
    tracks obligations or comes after one). Built from the stored workflows (a few)."""
    clauses: list[ColumnElement[bool]] = [m.Contract.status == "closed"]
    for wid in session.scalars(select(m.WorkflowDefinition.id)):
        after = stages_after_signing(session, wid)
        if after:
            clauses.append(and_(m.Contract.workflow_id == wid, m.Contract.stage.in_(sorted(after))))
    return and_(m.Contract.status != "withdrawn", or_(*clauses))


def stages_after_signing(session: Session, workflow_id: int) -> set[str]:
    spec = spec_for(session, workflow_id)
    after: set[str] = set()
    frontier = [s.id for s in spec.stages if s.tracks == "obligations"]
    while frontier:
        stage = frontier.pop()
        if stage in after:
            continue
        after.add(stage)
        frontier.extend(spec.stage(stage).actions.values())
    return after


def signing_events(session: Session) -> ColumnElement[bool]:
    """A WHERE clause over `audit_events` joined to `contracts`: the event that moved the
    contract from review into a stage that tracks obligations (its signing's approval)."""
    clauses: list[ColumnElement[bool]] = []
    for wid in session.scalars(select(m.WorkflowDefinition.id)):
        tracking = sorted(s.id for s in spec_for(session, wid).stages if s.tracks == "obligations")
        if tracking:
            clauses.append(
                and_(
                    m.Contract.workflow_id == wid,
                    m.AuditEvent.to_stage.in_(tracking),
                    or_(
                        m.AuditEvent.from_stage.is_(None), m.AuditEvent.from_stage.not_in(tracking)
                    ),
                )
            )
    return or_(*clauses) if clauses else false()


def in_base() -> Any:
    """An obligation's amount in the base currency (at its contract's own rate)."""
    return m.Obligation.amount * m.Contract.amount_base / func.nullif(m.Contract.amount, 0)


def obligation_counts(
    by: By, start: dt.date, end: dt.date, today: dt.date, signed: ColumnElement[bool]
) -> Any:
    """One grouped statement: every obligation count and the overdue amount."""
    cut = min(end + dt.timedelta(days=1), today)
    fulfilled = m.Obligation.status == "fulfilled"
    on_time = and_(fulfilled, m.Obligation.fulfilled_on <= m.Obligation.due)
    late = and_(
        fulfilled, m.Obligation.fulfilled_on > m.Obligation.due, m.Obligation.fulfilled_on <= end
    )
    still_open = or_(
        m.Obligation.status == "open", and_(fulfilled, m.Obligation.fulfilled_on > end)
    )
    overdue = and_(still_open, m.Obligation.due < cut)

    def count(cond: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    key = group_key(by)
    return (
        select(
            key,
            func.count().label("obligations_due"),
            count(on_time).label("fulfilled_on_time"),
            count(late).label("fulfilled_late"),
            count(overdue).label("overdue_open"),
            func.coalesce(func.sum(case((overdue, in_base()), else_=0)), 0).label("overdue_amount"),
        )
        .select_from(m.Obligation)
        .join(m.Contract, m.Contract.id == m.Obligation.contract_id)
        .join(m.User, m.User.id == m.Contract.owner_id)
        .where(
            m.Obligation.due >= start,
            m.Obligation.due <= end,
            m.Obligation.status != "waived",
            signed,
        )
        .group_by(key)
    )


def cycle_days(session: Session) -> Any:
    """Days between two UTC moments as a float, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return lambda later, earlier: func.extract("epoch", later - earlier) / 86400.0
    return lambda later, earlier: func.julianday(later) - func.julianday(earlier)


def cycle_query(session: Session, by: By, first: dt.datetime, after: dt.datetime) -> Any:
    """(key, days) per contract signed in the period: first submission to signing."""
    submitted = (
        select(m.AuditEvent.contract_id, func.min(m.AuditEvent.at).label("at"))
        .where(m.AuditEvent.action == "submit")
        .group_by(m.AuditEvent.contract_id)
        .subquery("submitted")
    )
    signed = (
        select(m.AuditEvent.contract_id, func.min(m.AuditEvent.at).label("at"))
        .join(m.Contract, m.Contract.id == m.AuditEvent.contract_id)
        .where(signing_events(session))
        .group_by(m.AuditEvent.contract_id)
        .subquery("signed")
    )
    key = group_key(by)
    days = cycle_days(session)(signed.c.at, submitted.c.at).label("days")
    return (
        select(key, days)
        .select_from(signed)
        .join(submitted, submitted.c.contract_id == signed.c.contract_id)
        .join(m.Contract, m.Contract.id == signed.c.contract_id)
        .join(m.User, m.User.id == m.Contract.owner_id)
        .where(signed.c.at >= first, signed.c.at < after)
    )


def median_percentile_cont(cycles: Any) -> Any:
    """PostgreSQL: the median as the database defines it (percentile_cont(0.5))."""
    sub = cycles.subquery("cycles")
    return select(
        sub.c.key, func.percentile_cont(0.5).within_group(sub.c.days).label("median")
    ).group_by(sub.c.key)


def median_by_rank(cycles: Any) -> Any:
    """Any database with window functions (SQLite): the mean of the middle one or two
    values by rank, which is what percentile_cont(0.5) computes."""
    sub = cycles.subquery("cycles")
    ranked = select(
        sub.c.key,
        sub.c.days,
        func.row_number().over(partition_by=sub.c.key, order_by=sub.c.days).label("rn"),
        func.count().over(partition_by=sub.c.key).label("n"),
    ).subquery("ranked")
    low = (ranked.c.n + 1) // 2  # `//`: integer division on every backend
    high = (ranked.c.n + 2) // 2
    return (
        select(ranked.c.key, func.avg(ranked.c.days).label("median"))
        .where(or_(ranked.c.rn == low, ranked.c.rn == high))
        .group_by(ranked.c.key)
    )


def compute_rows(
    session: Session,
    by: By,
    start: dt.date,
    end: dt.date,
    today: dt.date,
    zone: dt.tzinfo,
    visible: ColumnElement[bool],
) -> list[ScorecardRow]:
    first, after = _bounds(start, end, zone)
    key = group_key(by)
    owner_join = m.User.id == m.Contract.owner_id
    active = and_(
        m.Contract.status == "active", m.Contract.start_date <= end, m.Contract.end_date >= start
    )
    data: dict[str | None, dict[str, Any]] = {}

    def put(k: str | None, **values: Any) -> None:
        data.setdefault(k, {}).update(values)

    contracts = session.execute(
        select(key, func.count())
        .select_from(m.Contract)
        .join(m.User, owner_join)
        .where(active, visible)
        .group_by(key)
    ).all()
    for k, n in contracts:
        put(k, contracts_active=int(n))

    flags = session.execute(
        select(key, func.count())
        .select_from(m.RiskFlag)
        .join(m.RiskEvaluation, m.RiskEvaluation.id == m.RiskFlag.evaluation_id)
        .join(m.Contract, m.Contract.id == m.RiskFlag.contract_id)
        .join(m.User, owner_join)
        .where(m.RiskEvaluation.current.is_(True), m.RiskFlag.severity.in_(HIGH), active, visible)
        .group_by(key)
    ).all()
    for k, n in flags:
        put(k, high_flags=int(n))

    signed = and_(past_signing(session), visible)
    for row in session.execute(obligation_counts(by, start, end, today, signed)).mappings():
        put(
            row["key"],
            obligations_due=int(row["obligations_due"]),
            fulfilled_on_time=int(row["fulfilled_on_time"]),
            fulfilled_late=int(row["fulfilled_late"]),
            overdue_open=int(row["overdue_open"]),
            overdue_amount=Decimal(str(row["overdue_amount"] or 0)).quantize(CENT),
        )

    for k, median in session.execute(medians(session, by, first, after, visible)).all():
        put(k, median_cycle_days=_one_decimal(median))

    task = aliased(m.Task)  # the visibility clause has its own `tasks` (EXISTS)
    escalated = session.execute(
        select(key, func.count())
        .select_from(task)
        .join(m.Contract, m.Contract.id == task.contract_id)
        .join(m.User, owner_join)
        .where(task.escalated_at >= first, task.escalated_at < after, visible)
        .group_by(key)
    ).all()
    for k, n in escalated:
        put(k, tasks_escalated=int(n))

    out = []
    for k, values in data.items():
        scored = (
            values.get("fulfilled_on_time", 0)
            + values.get("fulfilled_late", 0)
            + values.get("overdue_open", 0)
        )
        rate = (
            _one_decimal(Decimal(100) * values.get("fulfilled_on_time", 0) / scored)
            if scored
            else None
        )
        out.append(ScorecardRow(**{by: k}, **values, on_time_rate=rate))
    return out


def medians(
    session: Session, by: By, first: dt.datetime, after: dt.datetime, visible: ColumnElement[bool]
) -> Any:
    """(key, median days) per owner or team: percentile_cont on PostgreSQL, by rank else."""
    cycles = cycle_query(session, by, first, after).where(visible)
    if session.get_bind().dialect.name == "postgresql":
        return median_percentile_cont(cycles)
    return median_by_rank(cycles)


def _one_decimal(value: Any) -> float | None:
    if value is None:
        return None
    return float(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def overdue_trend(rt: Runtime, who: Principal, start: dt.date, end: dt.date) -> list[MonthAmount]:
    """The overdue open amount at each month end in the period (the last month at `end`,
    or today): one statement, one column per month."""
    today = rt.today()
    points: list[tuple[str, dt.date]] = []
    month = start.replace(day=1)
    while month <= end:
        nxt = (month + dt.timedelta(days=32)).replace(day=1)
        last = min(nxt - dt.timedelta(days=1), end)
        points.append((f"{month:%Y-%m}", last))
        month = nxt
    with rt.db.reads() as session:
        signed = and_(past_signing(session), _visible(session, who, today))
        columns = []
        for i, (_, last) in enumerate(points):
            cut = min(last + dt.timedelta(days=1), today)
            open_then = or_(
                m.Obligation.status == "open",
                and_(m.Obligation.status == "fulfilled", m.Obligation.fulfilled_on > last),
            )
            columns.append(
                func.coalesce(
                    func.sum(case((and_(open_then, m.Obligation.due < cut), in_base()), else_=0)),
                    0,
                ).label(f"m{i}")
            )
        if not columns:
            return []
        row = session.execute(
            select(*columns)
            .select_from(m.Obligation)
            .join(m.Contract, m.Contract.id == m.Obligation.contract_id)
            .where(m.Obligation.status != "waived", m.Obligation.due <= end, signed)
        ).one()
    return [
        MonthAmount(month=label, overdue_amount=Decimal(str(row[i] or 0)).quantize(CENT))
        for i, (label, _) in enumerate(points)
    ]


def columns(by: By) -> list[Column]:
    """The scorecard's columns for CSV and Excel, in the printed order."""
    return [
        Column(by, "Owner" if by == "owner" else "Team", "text"),
        Column("contracts_active", "Active contracts", "int"),
        Column("obligations_due", "Obligations due", "int"),
        Column("fulfilled_on_time", "Fulfilled on time", "int"),
        Column("fulfilled_late", "Fulfilled late", "int"),
        Column("overdue_open", "Overdue open", "int"),
        Column("on_time_rate", "On-time rate", "percent"),
        Column("overdue_amount", "Overdue amount", "decimal"),
        Column("median_cycle_days", "Median cycle days", "decimal"),
        Column("tasks_escalated", "Tasks escalated", "int"),
        Column("high_flags", "High flags", "int"),
    ]


def printed_rows(card: Scorecard) -> list[dict[str, Any]]:
    return [r.printed(card.by) for r in card.rows]


def csv_download(card: Scorecard) -> bytes:
    return csv_bytes(columns(card.by), [_typed(r, card.by) for r in card.rows])


def xlsx_download(card: Scorecard) -> bytes:
    title = f"Scorecard {card.period_from} to {card.period_to}"
    return xlsx_bytes(title, columns(card.by), [_typed(r, card.by) for r in card.rows])


def _typed(row: ScorecardRow, by: By) -> dict[str, Any]:
    data = row.model_dump()
    data.pop("team" if by == "owner" else "owner")
    return data


class DrillRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    contract: str
    obligation: str
    description: str
    due: dt.date
    status: str
    fulfilled_on: dt.date | None
    amount: Decimal | None


def obligations_of(
    rt: Runtime,
    who: Principal | None,
    *,
    by: By,
    key: str,
    start: dt.date,
    end: dt.date,
    limit: int = 500,
) -> list[DrillRow]:
    """A scorecard row's obligations: those due in the period that its counts are made of."""
    today = rt.today()
    with rt.db.reads() as session:
        signed = and_(past_signing(session), _visible(session, who, today))
        rows = session.execute(
            select(
                m.Contract.code,
                m.Obligation.oid,
                m.Obligation.description,
                m.Obligation.due,
                m.Obligation.status,
                m.Obligation.fulfilled_on,
                m.Obligation.amount,
            )
            .join(m.Contract, m.Contract.id == m.Obligation.contract_id)
            .join(m.User, m.User.id == m.Contract.owner_id)
            .where(
                group_key(by) == key,
                m.Obligation.due >= start,
                m.Obligation.due <= end,
                m.Obligation.status != "waived",
                signed,
            )
            .order_by(m.Obligation.due, m.Contract.code, m.Obligation.oid)
            .limit(limit)
        ).all()
    return [
        DrillRow(
            contract=r[0],
            obligation=r[1],
            description=r[2],
            due=r[3],
            status=r[4],
            fulfilled_on=r[5],
            amount=r[6],
        )
        for r in rows
    ]
