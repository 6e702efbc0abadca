"""The searchable, sortable, paginated contract list (CLI `contracts list`, the web contracts
page, `GET /api/contracts`, and their CSV / Excel exports).

One query for every interface, so a filter means the same everywhere and a download holds
exactly the rows the page shows. Filters are checked before any query: an unknown stage,
status, severity or sort field is refused naming the option, never silently ignored.

Speed at a million contracts (docs/benchmarks.md): no `count(*)` (pages fetch one row
more than they show to tell whether a next page exists), sorts that an index serves
(`ix_contracts_list_*`, migration 0009) with the id as tie-breaker so pages never overlap,
and on PostgreSQL the text search runs as `ILIKE` over pg_trgm GIN indexes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Select, case, or_, select
from sqlalchemy.orm import Session

from engine.documents.spreadsheet import Column, csv_bytes, xlsx_bytes
from engine.errors import InvalidInput
from engine.services import access
from engine.services.auth import Principal
from engine.services.runtime import Runtime
from engine.services.workflows import spec_for
from engine.store import models as m

MAX_LIMIT = 500
#: A download holds at most this many rows (a list bigger than that wants a filter).
EXPORT_LIMIT = 50_000
MAX_OFFSET = 10_000_000

STATUSES = tuple(m.CONTRACT_STATUSES)
SEVERITIES = tuple(m.SEVERITIES)  # in rank order


class ContractListRow(BaseModel):
    """One row of the contract list (JSON of `contracts list`, `GET /api/contracts`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    counterparty: str
    owner: str
    team: str | None = None
    stage: str
    status: str
    workflow: str
    workflow_version: int
    amount: Decimal
    currency: str
    max_severity: str
    submitted_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


#: Sort field -> column; `-field` sorts descending. Every one ends with the id.
SORTS: dict[str, ColumnElement[object]] = {
    "id": m.Contract.code,  # type: ignore[dict-item]
    "title": m.Contract.title,  # type: ignore[dict-item]
    "counterparty": m.Contract.counterparty_name,  # type: ignore[dict-item]
    "owner": m.User.username,  # type: ignore[dict-item]
    "stage": m.Contract.stage,  # type: ignore[dict-item]
    "status": m.Contract.status,  # type: ignore[dict-item]
    "amount": m.Contract.amount,  # type: ignore[dict-item]
    "max_severity": m.Contract.max_severity,  # type: ignore[dict-item]
    "submitted_at": m.Contract.created_at,  # type: ignore[dict-item]
    "updated_at": m.Contract.updated_at,  # type: ignore[dict-item]
}
DEFAULT_SORT = "-updated_at"

COLUMNS = [
    Column("id", "Contract", "text"),
    Column("title", "Title", "text"),
    Column("counterparty", "Counterparty", "text"),
    Column("owner", "Owner", "text"),
    Column("team", "Team", "text"),
    Column("stage", "Stage", "text"),
    Column("status", "Status", "text"),
    Column("amount", "Amount", "decimal"),
    Column("currency", "Currency", "text"),
    Column("max_severity", "Max severity", "text"),
    Column("submitted_at", "Submitted", "date"),
    Column("updated_at", "Updated", "date"),
]


@dataclass(frozen=True)
class ListFilter:
    stage: str | None = None
    status: str | None = None
    counterparty: str | None = None
    owner: str | None = None
    team: str | None = None
    min_severity: str | None = None
    search: str | None = None
    sort: str = DEFAULT_SORT

    def query_args(self) -> dict[str, str]:
        """The non-empty filters as query parameters (for page links and downloads)."""
        names = {
            "stage": self.stage,
            "status": self.status,
            "counterparty": self.counterparty,
            "owner": self.owner,
            "team": self.team,
            "min_severity": self.min_severity,
            "search": self.search,
        }
        args = {k: v for k, v in names.items() if v}
        if self.sort != DEFAULT_SORT:
            args["sort"] = self.sort
        return args


def known_stages(session: Session) -> set[str]:
    """Every stage of every stored workflow definition (what `--stage` may name)."""
    ids = session.scalars(select(m.WorkflowDefinition.id))
    return {stage.id for wid in ids for stage in spec_for(session, wid).stages}


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def make_filter(
    session: Session,
    *,
    stage: str | None = None,
    status: str | None = None,
    counterparty: str | None = None,
    owner: str | None = None,
    team: str | None = None,
    min_severity: str | None = None,
    search: str | None = None,
    sort: str | None = None,
) -> ListFilter:
    """A checked `ListFilter`; InvalidInput (one line per problem, naming the option)."""
    problems: list[str] = []
    stage, status, min_severity = _clean(stage), _clean(status), _clean(min_severity)
    sort = _clean(sort) or DEFAULT_SORT
    if status and status not in STATUSES:
        problems.append(f"--status: unknown status {status!r} (one of {', '.join(STATUSES)})")
    if min_severity and min_severity not in SEVERITIES:
        problems.append(
            f"--min-severity: unknown severity {min_severity!r} (one of {', '.join(SEVERITIES)})"
        )
    if sort.removeprefix("-") not in SORTS:
        problems.append(
            f"--sort: unknown field {sort!r} (one of {', '.join(SORTS)}; -FIELD for descending)"
        )
    for name, value, limit in (("--search", search, 200), ("--counterparty", counterparty, 200)):
        if value and len(value) > limit:
            problems.append(f"{name}: at most {limit} characters")
    if stage and stage not in known_stages(session):
        problems.append(f"--stage: no workflow has a stage {stage!r}")
    if problems:
        raise InvalidInput(problems)
    return ListFilter(
        stage=stage,
        status=status,
        counterparty=_clean(counterparty),
        owner=_clean(owner),
        team=_clean(team),
        min_severity=min_severity,
        search=_clean(search),
        sort=sort,
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_query(
    session: Session, who: Principal | None, today: dt.date, f: ListFilter
) -> Select[*tuple[Any, ...]]:
    query = (
        select(
            m.Contract.code,
            m.Contract.title,
            m.Contract.counterparty_name,
            m.User.username,
            m.User.team,
            m.Contract.stage,
            m.Contract.status,
            m.WorkflowDefinition.name,
            m.WorkflowDefinition.version,
            m.Contract.amount,
            m.Contract.currency,
            m.Contract.max_severity,
            m.Contract.created_at,
            m.Contract.updated_at,
        )
        .join(m.WorkflowDefinition, m.WorkflowDefinition.id == m.Contract.workflow_id)
        .join(m.User, m.User.id == m.Contract.owner_id)
    )
    if who is not None:  # None: the operator at the command line, who sees everything
        query = query.where(access.visible_contracts(session, who, today))
    if f.stage:
        query = query.where(m.Contract.stage == f.stage)
    if f.status:
        query = query.where(m.Contract.status == f.status)
    if f.counterparty:
        query = query.where(m.Contract.counterparty_name.ilike(_like(f.counterparty), escape="\\"))
    if f.owner:
        query = query.where(m.User.username == f.owner)
    if f.team:  # the owner's team (users add/set --team)
        query = query.where(m.User.team == f.team)
    if f.min_severity:
        at_least = SEVERITIES[SEVERITIES.index(f.min_severity) :]
        if len(at_least) < len(SEVERITIES):
            query = query.where(m.Contract.max_severity.in_(at_least))
    if f.search:
        pattern = _like(f.search)
        query = query.where(
            or_(
                m.Contract.code.ilike(pattern, escape="\\"),
                m.Contract.title.ilike(pattern, escape="\\"),
                m.Contract.counterparty_name.ilike(pattern, escape="\\"),
            )
        )
    field = f.sort.removeprefix("-")
    column = SORTS[field]
    if field == "max_severity":  # by rank, not alphabetically
        column = case({s: i for i, s in enumerate(SEVERITIES)}, value=m.Contract.max_severity)
    if f.sort.startswith("-"):
        return query.order_by(column.desc(), m.Contract.id.desc())
    return query.order_by(column.asc(), m.Contract.id.asc())


def contract_list(
    rt: Runtime, who: Principal | None, f: ListFilter, *, limit: int = 100, offset: int = 0
) -> list[ContractListRow]:
    """Up to `limit` rows from `offset` (callers ask one more to see a next page)."""
    with rt.db.reads() as session:
        query = (
            list_query(session, who, rt.today(), f)
            .limit(min(max(limit, 1), EXPORT_LIMIT + 1))
            .offset(min(max(offset, 0), MAX_OFFSET))
        )
        return [
            ContractListRow(
                id=r.code,
                title=r.title,
                counterparty=r.counterparty_name,
                owner=r.username,
                team=r.team,
                stage=r.stage,
                status=r.status,
                workflow=r.name,
                workflow_version=r.version,
                amount=r.amount,
                currency=r.currency,
                max_severity=r.max_severity,
                submitted_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in session.execute(query)
        ]


def checked_filter(rt: Runtime, **filters: str | None) -> ListFilter:
    with rt.db.reads() as session:
        return make_filter(session, **filters)


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def rows_csv(rows: list[ContractListRow]) -> bytes:
    return csv_bytes(COLUMNS, [r.model_dump() for r in rows])


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    media_type: str
    filename: str


def export_file(rt: Runtime, who: Principal | None, f: ListFilter, kind: str) -> ExportFile:
    """The whole filtered list (up to EXPORT_LIMIT rows) as CSV or .xlsx."""
    rows = [r.model_dump() for r in contract_list(rt, who, f, limit=EXPORT_LIMIT)]
    name = f"contracts-{rt.today().isoformat()}.{kind}"
    if kind == "csv":
        return ExportFile(csv_bytes(COLUMNS, rows), CSV_MEDIA_TYPE, name)
    if kind == "xlsx":
        return ExportFile(xlsx_bytes("Contracts", COLUMNS, rows), XLSX_MEDIA_TYPE, name)
    raise InvalidInput(f"unknown export format {kind!r} (csv or xlsx)")
