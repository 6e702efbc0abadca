"""The counterparty register's use cases (SPEC 7): add, change, list, show, and the risk
warnings a change sends.

A change of rating, status or limit re-scores every active contract of that counterparty
in the same transaction as the change (so nobody sees the new limit with old flags) and
writes one outbox email per contract whose max severity rose; the outbox key (contract,
change) makes that exactly once, whoever sends it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.domain.contract import CreditRating
from engine.domain.counterparty import (
    CounterpartyStatus,
    normalise_code,
    normalise_name,
    uscc_problem,
)
from engine.domain.risk import Severity
from engine.errors import Conflict, InvalidInput, NotFound
from engine.services import audit
from engine.services.audit_key import session_key
from engine.services.outbox import message_id_for
from engine.services.register import exposure_of, owed_by
from engine.services.runtime import Runtime
from engine.services.scoring import store_reports
from engine.services.stored_batch import load
from engine.services.unit_of_work import get_user, require_role, table, unit_of_work
from engine.store import models as m

EDITOR_ROLES = frozenset({"risk_officer", "admin"})
#: Fields whose change re-scores the counterparty's contracts.
RISK_FIELDS = ("rating", "status", "credit_limit")
UNSET: Any = object()


# -- input ----------------------------------------------------------------------------------


def parse_code(value: str | None, option: str = "--code") -> str | None:
    if value is None or not value.strip():
        return None
    code = normalise_code(value)
    problem = uscc_problem(code)
    if problem:
        raise InvalidInput(f"{option}: {value} is not a Unified Social Credit Code: {problem}")
    return code


def parse_rating(value: str | None, option: str = "--rating") -> str | None:
    if value is None or value.strip().lower() in ("", "none"):
        return None
    try:
        return CreditRating(value.strip().upper()).value
    except ValueError:
        allowed = " ".join(r.value for r in CreditRating)
        raise InvalidInput(f"{option}: {value!r} is not a credit rating ({allowed})") from None


#: Credit limits stay below 10^13 (ten trillion): there the durable_rules engine, which
#: compares numbers as doubles, still tells amounts a cent apart, so both risk backends
#: agree on "over the limit" to the cent (the oracle test generates limits up to it).
MAX_CREDIT_LIMIT = Decimal(10) ** 13


def parse_limit(value: str | None, option: str = "--credit-limit") -> Decimal | None:
    if value is None or value.strip().lower() in ("", "none"):
        return None
    try:
        amount = Decimal(value.strip().replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise InvalidInput(f"{option}: {value!r} is not an amount (or 'none')") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(f"{option}: {value} must be an amount >= 0 (or 'none')")
    if amount != amount.quantize(Decimal("0.01")) or amount >= MAX_CREDIT_LIMIT:
        raise InvalidInput(
            f"{option}: {value} has more than 2 decimals or is above 9,999,999,999,999.99"
        )
    return amount


def parse_status(value: str | None, option: str = "--status") -> str | None:
    if value is None:
        return None
    try:
        return CounterpartyStatus(value.strip().lower()).value
    except ValueError:
        allowed = ", ".join(s.value for s in CounterpartyStatus)
        raise InvalidInput(f"{option}: {value!r} is not one of {allowed}") from None


def parse_name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise InvalidInput("NAME: the counterparty's name is empty")
    if len(name) > 200:
        raise InvalidInput("NAME: longer than 200 characters")
    return name


# -- reading --------------------------------------------------------------------------------


def _get(session: Session, key: str, *, lock: bool = False) -> m.Counterparty:
    """A record by code or by (normalised) name."""
    query = select(m.Counterparty).where(
        or_(
            m.Counterparty.code == normalise_code(key),
            m.Counterparty.name_key == normalise_name(key),
        )
    )
    if lock:
        query = query.with_for_update()
    found = session.scalars(query).first()
    if found is None:
        raise NotFound(f"counterparty {key!r} is not in the register (name or code)")
    return found


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def show_counterparty(rt: Runtime, key: str, username: str) -> dict[str, Any]:
    """SPEC 7's `show --format json`."""
    with rt.db.reads() as session:
        get_user(session, username)
        return _show(session, rt, _get(session, key))


def _show(session: Session, rt: Runtime, row: m.Counterparty) -> dict[str, Any]:
    owed = owed_by(session, rt, [row.id])[row.id]
    exposure = exposure_of(owed)
    limit = row.credit_limit
    names = dict(session.execute(select(m.User.id, m.User.username)).all())
    history = session.scalars(
        select(m.CounterpartyChange)
        .where(m.CounterpartyChange.counterparty_id == row.id)
        .order_by(m.CounterpartyChange.id)
    ).all()
    return {
        "name": row.name,
        "code": row.code,
        "rating": row.rating,
        "status": row.status,
        "credit_limit": _money(limit),
        "exposure": _money(exposure),
        "available_credit": None if limit is None else _money(limit - exposure),
        "base_currency": rt.risk_config.base_currency,
        "contracts": [
            {"id": x.code, "stage": x.stage, "outstanding": _money(x.outstanding)}
            for x in owed
            if x.counts
        ],
        "history": [
            {
                "at": h.at.isoformat(),
                "by": names.get(h.actor_id) if h.actor_id else None,
                "field": h.field,
                "from": h.from_value,
                "to": h.to_value,
                "reason": h.reason,
            }
            for h in history
        ],
    }


def list_counterparties(
    rt: Runtime, username: str, search: str | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """The register, by name; `search` matches a part of the name or the code."""
    with rt.db.reads() as session:
        get_user(session, username)
        query = select(m.Counterparty).order_by(m.Counterparty.name_key)
        if search and search.strip():
            needle = normalise_name(search)
            query = query.where(
                or_(
                    m.Counterparty.name_key.contains(needle, autoescape=True),
                    m.Counterparty.code.contains(normalise_code(search), autoescape=True),
                )
            )
        rows = session.scalars(query.limit(max(1, min(limit, 500))).offset(max(0, offset))).all()
        owed = owed_by(session, rt, [r.id for r in rows])
        out = []
        for r in rows:
            exposure = exposure_of(owed[r.id])
            out.append(
                {
                    "name": r.name,
                    "code": r.code,
                    "rating": r.rating,
                    "status": r.status,
                    "credit_limit": _money(r.credit_limit),
                    "exposure": _money(exposure),
                    "available_credit": None
                    if r.credit_limit is None
                    else _money(r.credit_limit - exposure),
                    "contracts": sum(1 for x in owed[r.id] if x.counts),
                }
            )
        return out


def counterparty_of_contract(rt: Runtime, code: str) -> dict[str, Any] | None:
    """Name and code of a contract's register record (for links from contract pages)."""
    with rt.db.reads() as session:
        row = session.execute(
            select(m.Counterparty.name, m.Counterparty.code)
            .join(m.Contract, m.Contract.counterparty_id == m.Counterparty.id)
            .where(m.Contract.code == code)
        ).first()
        return None if row is None else {"name": row.name, "code": row.code}


# -- changing -------------------------------------------------------------------------------


def add_counterparty(
    rt: Runtime,
    username: str,
    name: str,
    *,
    code: str | None = None,
    rating: str | None = None,
    credit_limit: str | None = None,
    status: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """`counterparties add`: a new record (exit 1 if the name or code is taken)."""
    clean = parse_name(name)
    values = {
        "code": parse_code(code),
        "rating": parse_rating(rating),
        "credit_limit": parse_limit(credit_limit),
        "status": parse_status(status) or "active",
    }
    now = rt.clock()
    with unit_of_work(rt) as session:
        user = get_user(session, username)
        require_role(user, EDITOR_ROLES, "change the counterparty register")
        same = [m.Counterparty.name_key == normalise_name(clean)]
        if values["code"]:
            same.append(m.Counterparty.code == values["code"])
        taken = session.scalars(select(m.Counterparty).where(or_(*same))).first()
        if taken is not None:
            raise Conflict(
                f"{taken.name!r} ({taken.code or 'no code'}) is already in the register; "
                "change it with `counterparties set`"
            )
        row = m.Counterparty(
            name=clean,
            name_key=normalise_name(clean),
            created_at=now,
            updated_at=now,
            **values,
        )
        session.add(row)
        session.flush()
        session.add(
            m.CounterpartyChange(
                counterparty_id=row.id,
                at=now,
                actor_id=user.id,
                field="created",
                from_value=None,
                to_value=clean,
                reason=reason or "added to the register",
            )
        )
        for key, value in values.items():
            if value is not None and not (key == "status" and value == "active"):
                session.add(
                    m.CounterpartyChange(
                        counterparty_id=row.id,
                        at=now,
                        actor_id=user.id,
                        field=key,
                        from_value=None,
                        to_value=_text(value),
                        reason=reason or "added to the register",
                    )
                )
        session.flush()
        return _show(session, rt, row)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), "f")
    return str(value)


@dataclass(frozen=True)
class SetResult:
    counterparty: str
    rescored: int
    raised: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"counterparty": self.counterparty, "rescored": self.rescored, "raised": self.raised}


def set_counterparty(
    rt: Runtime,
    username: str,
    key: str,
    *,
    reason: str,
    rating: str | None = UNSET,
    credit_limit: str | None = UNSET,
    status: str | None = UNSET,
    name: str | None = UNSET,
    code: str | None = UNSET,
) -> SetResult:
    """`counterparties set`: change fields (with a reason), re-score, warn owners."""
    if not reason or not reason.strip():
        raise InvalidInput("--reason: say why the counterparty changes")
    if len(reason) > 2000:
        raise InvalidInput("--reason: longer than 2000 characters")
    wanted: dict[str, Any] = {}
    if rating is not UNSET:
        wanted["rating"] = parse_rating(rating)
    if credit_limit is not UNSET:
        wanted["credit_limit"] = parse_limit(credit_limit)
    if status is not UNSET:
        if status is None:
            raise InvalidInput("--status: one of active, watch, blocked")
        wanted["status"] = parse_status(status)
    if name is not UNSET and name is not None:
        wanted["name"] = parse_name(name)
    if code is not UNSET:
        wanted["code"] = parse_code(code)
    if not wanted:
        raise InvalidInput("nothing to change: give --rating, --credit-limit or --status")
    evaluator = rt.evaluator  # started before the write transaction (SQLite's lock)
    now = rt.clock()
    with unit_of_work(rt) as session:
        user = get_user(session, username)
        require_role(user, EDITOR_ROLES, "change the counterparty register")
        row = _get(session, key, lock=True)
        changes: list[m.CounterpartyChange] = []
        for field, value in wanted.items():
            old = getattr(row, field)
            if field == "credit_limit":
                same = (old is None and value is None) or (
                    old is not None and value is not None and Decimal(old) == value
                )
            else:
                same = old == value
            if same:
                continue
            if field == "name":
                row.name_key = normalise_name(value)
            setattr(row, field, value)
            changes.append(
                m.CounterpartyChange(
                    counterparty_id=row.id,
                    at=now,
                    actor_id=user.id,
                    field=field,
                    from_value=_text(old),
                    to_value=_text(value),
                    reason=reason.strip(),
                )
            )
        if not changes:
            return SetResult(row.name, 0, [])
        row.updated_at = now
        session.add_all(changes)
        session.flush()
        if not any(c.field in RISK_FIELDS for c in changes):
            return SetResult(row.name, 0, [])
        rescored, raised = _rescore_counterparty(session, rt, evaluator, row, changes, user.id, now)
        return SetResult(row.name, rescored, raised)


def _rescore_counterparty(
    session: Session,
    rt: Runtime,
    evaluator: Any,
    row: m.Counterparty,
    changes: Sequence[m.CounterpartyChange],
    actor_id: int,
    now: dt.datetime,
) -> tuple[int, list[str]]:
    """Score the counterparty's active contracts with the new register facts; store the
    reports, and warn the owner of each contract whose max severity rose."""
    ids = list(
        session.scalars(
            select(m.Contract.id)
            .where(m.Contract.counterparty_id == row.id, m.Contract.status == "active")
            .order_by(m.Contract.id)
        )
    )
    if not ids:
        return 0, []
    stored = load(session, rt, ids)
    reports = evaluator.evaluate([s.contract for s in stored], rt.today())
    store_reports(session, [(s.id, s.revision, r) for s, r in zip(stored, reports, strict=True)])
    raised = [
        (s, r)
        for s, r in zip(stored, reports, strict=True)
        if r.max_severity.rank > Severity(s.max_severity).rank
    ]
    if raised:
        owners = dict(
            session.execute(
                select(m.User.id, m.User.email).where(
                    m.User.id.in_({s.owner_id for s, _ in raised})
                )
            ).all()
        )
        what = "; ".join(
            f"{c.field} {c.from_value or 'none'} -> {c.to_value or 'none'}" for c in changes
        )
        _warn(session, row, changes, raised, owners, what, actor_id, now)
    return len(stored), [s.code for s, _ in raised]


def _warn(
    session: Session,
    row: m.Counterparty,
    changes: Sequence[m.CounterpartyChange],
    raised: Sequence[tuple[Any, Any]],
    owners: dict[int, str | None],
    what: str,
    actor_id: int,
    now: dt.datetime,
) -> None:
    """One audit event per raised contract (chained onto the head its row records) and one
    outbox email to its owner; a handful of set-based statements for any number of them.

    The contracts' UPDATE bumps their version, so someone acting on one of them at the
    same moment fails cleanly (their version-checked UPDATE, or the event sequence)."""
    ids = [s.id for s, _ in raised]
    heads = {
        cid: (seq or 0, head or audit.GENESIS)
        for cid, seq, head in session.execute(
            select(m.Contract.id, m.Contract.audit_seq, m.Contract.audit_head).where(
                m.Contract.id.in_(ids)
            )
        )
    }
    reason = changes[0].reason
    listed = [{"field": c.field, "from": c.from_value, "to": c.to_value} for c in changes]
    events, moved, mails = [], [], []
    key = session_key(session).for_writing(session)
    for s, report in raised:
        seq, head = heads[s.id]
        values = audit._chained(
            key,
            s.id,
            seq + 1,
            head,
            "counterparty_change",
            now,
            {
                "actor_id": actor_id,
                "from_stage": s.stage,
                "to_stage": s.stage,
                "revision": s.revision,
                "comment": reason,
                "details": {
                    "counterparty": row.name,
                    "changes": listed,
                    "max_severity": {"from": s.max_severity, "to": report.max_severity.value},
                },
            },
        )
        events.append(values)
        moved.append({"cid": s.id, "seq": values["seq"], "head": values["hash"]})
        email = owners.get(s.owner_id)
        if not email:
            continue  # an owner without an email: the audit event records the rise
        mail_key = f"risk_warning:{s.id}:{changes[0].id}"
        rules = sorted(
            {f.rule for f in report.flags if f.severity.rank >= report.max_severity.rank}
        )
        mails.append(
            {
                "key": mail_key,
                "kind": "risk_warning",
                "level": report.max_severity.value,
                "contract_id": s.id,
                "recipients": [email],
                "subject": (
                    f"{s.code}: risk warning - {row.name} ({what}); "
                    f"risk {s.max_severity} -> {report.max_severity.value}"
                )[:300],
                "payload": {
                    "contract": s.code,
                    "counterparty": row.name,
                    "change": what,
                    "reason": reason,
                    "from_severity": s.max_severity,
                    "to_severity": report.max_severity.value,
                    "rules": ", ".join(rules),
                },
                "message_id": message_id_for(mail_key),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
        )
    audit.insert_events(session, events)
    contracts = table(m.Contract)
    session.connection().execute(
        update(contracts)
        .where(contracts.c.id == bindparam("cid"))
        .values(
            audit_seq=bindparam("seq"),
            audit_head=bindparam("head"),
            version=contracts.c.version + 1,
        ),
        moved,
    )
    if mails:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.connection().execute(
            insert(table(m.OutboxMessage)).on_conflict_do_nothing(index_elements=["key"]), mails
        )


def count(rt: Runtime) -> int:
    with rt.db.reads() as session:
        return int(session.scalar(select(func.count()).select_from(m.Counterparty)) or 0)
