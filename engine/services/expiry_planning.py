"""Planning contract expiry and renewal-notice alerts (SPEC section 8), like obligation alerts:
one set-based INSERT ... SELECT into the outbox, whose unique key makes each alert happen once.

| kind              | level           | an `active` contract ...                                         |
|-------------------|-----------------|------------------------------------------------------------------|
| `contract_expiry` | `expiring_90`.. | ends on the planning date or at most N days after it, for each N |
|                   |                 | of `expiry_alert_days` (config/risk.yaml, default 90, 60, 30)     |
| `renewal_notice`  | `renewal_notice`| renews automatically, has not ended, and its notice deadline     |
|                   |                 | (end_date - renewal_notice_days) is at most `due_soon_days` away  |

Keys: `contract:<id>:expiring:<N>` and `contract:<id>:renewal_notice`. A level whose day
came while the job did not run is still inside its window on the next run, so it is sent
then (a contract first seen 20 days before its end gets the 90, 60 and 30 day alerts at
once: each level is a different reminder its owner has not had). Terminated and closed
contracts are not `active`, so they get none. Recipients: the owner; at the last (smallest)
level and for the renewal notice also every `contract_manager`.

Each level is an index range scan of `ix_contracts_active_end` (active contracts by end
date); the level numbers come from the validated config and are written into the statement
as integers, the dates are bound.
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


def _fragments(dialect: str) -> dict[str, str]:
    if dialect == "postgresql":
        return {
            "json_object": "json_build_object",
            "text": "CAST({col} AS TEXT)",
            "deadline": "(c.end_date - COALESCE(c.renewal_notice_days, 0))",
            "recipients": (
                "(SELECT coalesce(json_agg(x.email ORDER BY x.email), CAST('[]' AS json)) "
                "FROM ({union}) x WHERE x.email IS NOT NULL)"
            ),
            "materialized": "MATERIALIZED",
            "true": "true",
        }
    if dialect == "sqlite":
        return {
            "json_object": "json_object",
            "text": "CAST({col} AS TEXT)",
            "deadline": "date(c.end_date, '-' || COALESCE(c.renewal_notice_days, 0) || ' days')",
            "recipients": (
                "(SELECT json_group_array(x.email) "
                "FROM ({union} ORDER BY 1) x WHERE x.email IS NOT NULL)"
            ),
            "materialized": "",
            "true": "1",
        }
    raise NotImplementedError(f"alert planning supports sqlite and postgresql, not {dialect}")


def _candidates(levels: list[int], f: dict[str, str]) -> str:
    """One row per (contract, level) due now: contract_id, kind, level, key, days, last,
    the date the alert is about (end date or notice deadline)."""
    true = f["true"]
    last = min(levels)
    parts = [
        f"SELECT c.id AS contract_id, 'contract_expiry' AS kind, 'expiring_{int(d)}' AS level, "  # noqa: S608 (integers from the validated config)
        f"'contract:' || {f['text'].format(col='c.id')} || ':expiring:{int(d)}' AS key, "
        f"{int(d)} AS days, {1 if d == last else 0} AS last, c.end_date AS on_date "
        "FROM contracts c WHERE c.status = 'active' "
        f"AND c.end_date >= :as_of AND c.end_date <= :until_{int(d)}"
        for d in levels
    ]
    deadline = f["deadline"]
    parts.append(
        "SELECT c.id, 'renewal_notice', 'renewal_notice', "  # noqa: S608 (constant fragments)
        f"'contract:' || {f['text'].format(col='c.id')} || ':' || 'renewal_notice', "
        f"COALESCE(c.renewal_notice_days, 0), 1, {deadline} "
        f"FROM contracts c WHERE c.status = 'active' AND c.auto_renewal = {true} "
        f"AND c.end_date >= :as_of AND {deadline} <= :notice_until"
    )
    return "\nUNION ALL\n".join(parts)


def planning_sql(dialect: str, levels: list[int]) -> str:
    f = _fragments(dialect)
    true = f["true"]
    union = (
        f"SELECT u.email AS email FROM users u WHERE u.id = k.owner_id AND u.active = {true} "  # noqa: S608 (constant fragments)
        "UNION SELECT u.email FROM users u JOIN user_roles r ON r.user_id = u.id "
        f"WHERE r.role = 'contract_manager' AND k.last = 1 AND u.active = {true}"
    )
    recipients = f["recipients"].format(union=union)
    on_text = f["text"].format(col="n.on_date")
    end_text = f["text"].format(col="n.end_date")
    subject = (
        "CASE n.kind WHEN 'renewal_notice' THEN "
        f"'Renewal notice due: contract ' || n.code || ', notice deadline ' || {on_text} "
        "ELSE 'Expiring (' || CAST(n.days AS TEXT) || ' days): contract ' || n.code "
        f"|| ' ends ' || {end_text} END"
    )
    payload = (
        f"{f['json_object']}("
        "'contract', n.code, 'title', n.title, 'counterparty', n.counterparty_name, "
        f"'end_date', {end_text}, 'on_date', {on_text}, 'days', n.days, "
        f"'as_of', {f['text'].format(col=':as_of')}, 'owner', n.owner_name, "
        "'renewal_notice_days', n.renewal_notice_days)"
    )
    message_id = "'<' || replace(n.key, ':', '.') || '@' || :domain || '>'"
    return f"""
INSERT INTO outbox (key, kind, level, contract_id, obligation_id, recipients, subject,
                    payload, message_id, status, attempts, created_at)
WITH due AS (
{_candidates(levels, f)}
),
new AS (
    SELECT d.*, c.code, c.title, c.counterparty_name, c.end_date, c.owner_id,
           c.renewal_notice_days, ow.username AS owner_name
    FROM due d
    JOIN contracts c ON c.id = d.contract_id
    JOIN users ow ON ow.id = c.owner_id
    WHERE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.key = d.key)
),
people AS {f["materialized"]} (
    SELECT k.owner_id, k.last, {recipients} AS recipients
    FROM (SELECT DISTINCT owner_id, last FROM new) k
)
SELECT n.key, n.kind, n.level, n.contract_id, NULL, p.recipients, {subject}, {payload},
       {message_id}, 'pending', 0, :now
FROM new n
JOIN people p ON p.owner_id = n.owner_id AND p.last = n.last
WHERE {true} = {true}
ON CONFLICT (key) DO NOTHING
"""  # noqa: S608 (constant fragments; values are bound)


@dataclass(frozen=True)
class ExpiryPlan:
    candidates: int  # (contract, level) pairs due on the planning date
    planned: int  # new outbox rows written now


def _dates(as_of: dt.date, config: RiskConfig) -> dict[str, dt.date]:
    soon = int(config.parameters.get("due_soon_days", 7))
    out = {"as_of": as_of, "notice_until": as_of + dt.timedelta(days=soon)}
    for d in config.expiry_alert_days:
        out[f"until_{int(d)}"] = as_of + dt.timedelta(days=int(d))
    return out


def plan_contract_alerts(
    session: Session, config: RiskConfig, as_of: dt.date, *, now: dt.datetime, domain: str
) -> ExpiryPlan:
    """Write the expiry and renewal-notice outbox rows for `as_of` in the caller's
    transaction."""
    dialect = session.get_bind().dialect.name
    levels = [int(d) for d in config.expiry_alert_days]
    dates = _dates(as_of, config)
    f = _fragments(dialect)
    date_params = [bindparam(name, type_=Date()) for name in dates]
    count = text(f"SELECT count(*) FROM ({_candidates(levels, f)}) d").bindparams(*date_params)  # noqa: S608
    candidates = int(session.execute(count, dates).scalar_one())
    if not candidates:
        return ExpiryPlan(0, 0)
    statement = text(planning_sql(dialect, levels)).bindparams(
        *date_params, bindparam("now", type_=m.UTCDateTime())
    )
    result = session.execute(statement, {**dates, "now": now, "domain": domain})
    return ExpiryPlan(candidates, int(getattr(result, "rowcount", 0) or 0))
