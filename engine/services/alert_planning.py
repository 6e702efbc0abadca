"""Planning obligation alerts: one set-based statement writes every outbox row due today.

An obligation reaches an alert level by its due date relative to the planning date (the
bands of SPEC section 2, thresholds from `config/risk.yaml`):

| level              | open obligation whose due date is ...                         |
|--------------------|----------------------------------------------------------------|
| `due_soon`         | the planning date or up to `due_soon_days` (7) days after it   |
| `overdue`          | 1 .. `overdue_high_days` (14) days before it                   |
| `overdue_high`     | more than 14 and up to `overdue_critical_days` (60) days before |
| `overdue_critical` | more than 60 days before it                                    |

The statement is `INSERT INTO outbox ... WITH due AS (...) ... SELECT ... ON CONFLICT (key) DO
NOTHING`: the `WHERE status = 'open' AND due <= :soon_until` range is served by the partial
index `ix_obligations_open_due`, obligations already in the outbox at their level are dropped
before anything is built, recipients are gathered once per distinct (owner, obligation owner,
critical) combination, and the unique key `obligation:<contract id>:<obligation id>:<level>`
makes a second run (or a second worker) a no-op. Only the obligation's current level is
planned: an obligation first seen 70 days late gets the critical alert, not the three it
skipped. Only obligations of active contracts in a stage that tracks obligations (signed)
are planned: a contract in review, withdrawn or closed gets no alerts. JSON building differs by dialect
(`json_build_object` / `json_object`), so the statement is assembled from small fragments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from engine.store import models as m

if TYPE_CHECKING:
    from engine.definitions.riskconfig import RiskConfig

LEVELS = ("due_soon", "overdue", "overdue_high", "overdue_critical")

#: New outbox rows from one planning run above which PostgreSQL's statistics are refreshed.
ANALYZE_AFTER = 1_000

LEVEL_SUBJECTS = {
    "due_soon": "Due soon",
    "overdue": "Overdue",
    "overdue_high": "Overdue (high)",
    "overdue_critical": "Overdue (critical)",
}


@dataclass(frozen=True)
class Bands:
    """Date boundaries of the levels for one planning date (inclusive lower bounds)."""

    as_of: dt.date
    soon_until: dt.date  # due <= this: due soon or overdue at all
    overdue_from: dt.date  # due >= this and < as_of: overdue (1..14 days)
    high_from: dt.date  # due >= this and < overdue_from: overdue_high (15..60 days)

    @classmethod
    def for_date(cls, as_of: dt.date, config: RiskConfig) -> Bands:
        p = config.parameters
        soon = int(p.get("due_soon_days", 7))
        high = int(p.get("overdue_high_days", 14))
        critical = int(p.get("overdue_critical_days", 60))
        return cls(
            as_of=as_of,
            soon_until=as_of + dt.timedelta(days=soon),
            overdue_from=as_of - dt.timedelta(days=high),
            high_from=as_of - dt.timedelta(days=critical),
        )

    def level_of(self, due: dt.date) -> str | None:
        """The level of one due date (used by tests and the docs; planning does it in SQL)."""
        if due > self.soon_until:
            return None
        if due >= self.as_of:
            return "due_soon"
        if due >= self.overdue_from:
            return "overdue"
        if due >= self.high_from:
            return "overdue_high"
        return "overdue_critical"


def _fragments(dialect: str) -> dict[str, str]:
    if dialect == "postgresql":
        return {
            "json_object": "json_build_object",
            "amount_text": "CAST({col} AS TEXT)",
            "same": "{a} IS NOT DISTINCT FROM {b}",
            # computed once, not re-evaluated per joined row (PostgreSQL inlines a CTE used once)
            "materialized": "MATERIALIZED",
            "date_text": "CAST({col} AS TEXT)",
            "id_text": "CAST({col} AS TEXT)",
            "recipients": (
                "(SELECT coalesce(json_agg(x.email ORDER BY x.email), CAST('[]' AS json)) "
                "FROM ({union}) x WHERE x.email IS NOT NULL)"
            ),
            "true": "true",
        }
    if dialect == "sqlite":
        return {
            "json_object": "json_object",
            "amount_text": "printf('%.2f', {col})",
            "same": "{a} IS {b}",
            "materialized": "",
            "date_text": "{col}",
            "id_text": "CAST({col} AS TEXT)",
            "recipients": (
                "(SELECT json_group_array(x.email) "
                "FROM ({union} ORDER BY 1) x WHERE x.email IS NOT NULL)"
            ),
            "true": "1",
        }
    raise NotImplementedError(f"alert planning supports sqlite and postgresql, not {dialect}")


def planning_sql(dialect: str) -> str:
    """The one statement that plans every alert (exposed for the docs and EXPLAIN in tests).

    `due` = open obligations at a level (index range scan); `fresh` drops those whose key is
    already in the outbox before any JSON is built, so a repeated run costs little more than
    the scan; `people` gathers recipients once per distinct (contract owner, obligation
    owner, critical) combination - a handful of subqueries, not one per alert.
    """
    f = _fragments(dialect)
    true = f["true"]
    union = (
        f"SELECT u.email AS email FROM users u WHERE u.id = k.owner_id AND u.active = {true} "  # noqa: S608 (constant fragments; values are bound)
        "UNION SELECT u.email FROM users u "
        f"WHERE u.username = k.obligation_owner AND u.active = {true} "
        "UNION SELECT u.email FROM users u JOIN user_roles r ON r.user_id = u.id "
        f"WHERE r.role = 'contract_manager' AND k.critical = 1 AND u.active = {true}"
    )
    recipients = f["recipients"].format(union=union)
    contract_id_text = f["id_text"].format(col="d.contract_id")
    workflow_id_text = f["id_text"].format(col="c.workflow_id")
    due_text = f["date_text"].format(col="n.due")
    as_of_text = f["date_text"].format(col=":as_of")
    key = f"'obligation:' || {contract_id_text} || ':' || d.oid || ':' || d.level"
    message_id = "'<' || replace(n.key, ':', '.') || '@' || :domain || '>'"
    subject_prefix = " ".join(
        f"WHEN '{level}' THEN '{label}'" for level, label in LEVEL_SUBJECTS.items()
    )
    subject = (
        f"(CASE n.level {subject_prefix} END) || ': contract ' || n.code "
        f"|| ', obligation ' || n.oid || ' due ' || {due_text}"
    )
    amount_text = f["amount_text"].format(col="n.amount")
    payload = (
        f"{f['json_object']}("
        "'contract', n.code, 'title', n.title, 'counterparty', n.counterparty_name, "
        "'obligation', n.oid, 'obligation_kind', n.kind, 'party', n.party, "
        "'description', n.description, "
        f"'amount', CASE WHEN n.amount IS NULL THEN NULL ELSE {amount_text} END, "
        f"'currency', n.currency, 'due', {due_text}, 'as_of', {as_of_text}, "
        "'owner', n.owner_name, 'owner_name', n.owner_shown, "
        "'obligation_owner', n.obligation_owner)"
    )
    same_owner = f["same"].format(a="p.obligation_owner", b="n.obligation_owner")
    sql = f"""
INSERT INTO outbox (key, kind, level, contract_id, obligation_id, recipients, subject,
                    payload, message_id, status, attempts, created_at)
WITH due AS (
    SELECT o.id AS obligation_id, o.contract_id, o.oid, o.kind, o.party, o.description,
           o.amount, o.due, o.owner AS obligation_owner,
           c.code, c.title, c.counterparty_name, c.currency, c.owner_id,
           ow.username AS owner_name, coalesce(ow.display_name, ow.username) AS owner_shown,
           CASE WHEN o.due >= :as_of THEN 'due_soon'
                WHEN o.due >= :overdue_from THEN 'overdue'
                WHEN o.due >= :high_from THEN 'overdue_high'
                ELSE 'overdue_critical' END AS level
    FROM obligations o
    JOIN contracts c ON c.id = o.contract_id
    JOIN users ow ON ow.id = c.owner_id
    WHERE o.status = 'open' AND o.due <= :soon_until AND c.status = 'active'
      AND ({workflow_id_text} || ':' || c.stage) IN :tracking
),
fresh AS (
    SELECT d.*, {key} AS key,
           CASE WHEN d.level = 'overdue_critical' THEN 1 ELSE 0 END AS critical
    FROM due d
),
new AS (
    SELECT * FROM fresh WHERE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.key = fresh.key)
),
people AS {f["materialized"]} (
    SELECT k.owner_id, k.obligation_owner, k.critical, {recipients} AS recipients
    FROM (SELECT DISTINCT owner_id, obligation_owner, critical FROM new) k
)
SELECT n.key, 'obligation_alert', n.level, n.contract_id, n.obligation_id,
       p.recipients, {subject}, {payload}, {message_id}, 'pending', 0, :now
FROM new n
JOIN people p ON p.owner_id = n.owner_id AND p.critical = n.critical AND {same_owner}
WHERE {true} = {true}
ON CONFLICT (key) DO NOTHING
"""  # noqa: S608 (constant fragments; values are bound)
    return sql


def _count_sql(dialect: str) -> str:
    workflow_text = _fragments(dialect)["id_text"].format(col="c.workflow_id")
    return (
        "SELECT count(*) FROM obligations o JOIN contracts c ON c.id = o.contract_id "  # noqa: S608 (constant fragments)
        "WHERE o.status = 'open' AND o.due <= :soon_until AND c.status = 'active' "
        f"AND ({workflow_text} || ':' || c.stage) IN :tracking"
    )


def tracking_keys(session: Session) -> list[str]:
    """`<workflow definition id>:<stage>` of every stage that tracks obligations: only a
    signed contract's obligations are alerted (in review they are terms, not yet due)."""
    from engine.services.workflows import tracking_stages

    return [f"{wid}:{stage}" for wid, stage in tracking_stages(session)]


@dataclass(frozen=True)
class PlanResult:
    candidates: int  # open obligations at some level on the planning date
    planned: int  # new outbox rows written now

    @property
    def skipped_duplicates(self) -> int:
        """Obligations already alerted (or queued) at their current level."""
        return self.candidates - self.planned


def plan_obligation_alerts(
    session: Session, config: RiskConfig, as_of: dt.date, *, now: dt.datetime, domain: str
) -> PlanResult:
    """Write the outbox rows for `as_of` in the caller's transaction."""
    bands = Bands.for_date(as_of, config)
    dialect = session.get_bind().dialect.name
    dates = {
        "as_of": bands.as_of,
        "soon_until": bands.soon_until,
        "overdue_from": bands.overdue_from,
        "high_from": bands.high_from,
    }
    tracking = tracking_keys(session)
    statement = text(planning_sql(dialect)).bindparams(
        *(bindparam(name, type_=Date()) for name in dates),
        bindparam("now", type_=m.UTCDateTime()),
        bindparam("tracking", expanding=True),
    )
    candidates = int(
        session.execute(
            text(_count_sql(dialect)).bindparams(
                bindparam("soon_until", type_=Date()), bindparam("tracking", expanding=True)
            ),
            {"soon_until": bands.soon_until, "tracking": tracking},
        ).scalar_one()
    )
    if dialect == "postgresql":
        # The row estimates are large enough to trigger JIT compilation, which costs more
        # than the whole statement saves on a 2-core machine.
        session.execute(text("SET LOCAL jit = off"))
    result = session.execute(
        statement, {**dates, "now": now, "domain": domain, "tracking": tracking}
    )
    planned = int(getattr(result, "rowcount", 0) or 0)
    if dialect == "postgresql" and planned >= ANALYZE_AFTER:
        # A large batch of new rows leaves the outbox's statistics describing the queue
        # before it: the sender's claim then expects a handful of pending rows and sorts the
        # whole queue for every batch (~100 ms each at 50,000 rows) instead of walking
        # `ix_outbox_pending`. Autovacuum would fix that about a minute later; the sender
        # starts now. ANALYZE counts this transaction's own new rows; it costs ~0.1 s.
        session.execute(text("ANALYZE outbox (id, status, next_attempt_at)"))
    return PlanResult(candidates=candidates, planned=planned)
