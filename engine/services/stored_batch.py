"""Stored contracts read in bulk as the rules score them: current terms, obligation
statuses as tracked, and their counterparty's register facts (each contract's own
outstanding amount left out of its `exposure_other`).

Used by the risk warnings after a register change and by `rules whatif`; both read a
few thousand contracts per statement instead of two queries per contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, and_, cast, select
from sqlalchemy.orm import Session

from engine.domain.contract import Contract
from engine.domain.counterparty import (
    UNREGISTERED,
    CounterpartyStatus,
    RegisterFacts,
    with_register,
)
from engine.services.register import Owed, exposure_of, owed_by, rating_of
from engine.services.runtime import Runtime
from engine.store import models as m

_ZERO = Decimal(0)


@dataclass(frozen=True)
class Stored:
    """One active contract ready to score."""

    id: int
    code: str
    revision: int
    stage: str
    workflow_id: int
    owner_id: int
    amount_base: Any
    max_severity: str
    contract: Contract


def load(
    session: Session,
    rt: Runtime,
    ids: Sequence[int],
    owed: Mapping[int, list[Owed]] | None = None,
) -> list[Stored]:
    """The contracts `ids` (in id order) with their register facts; `owed`: what
    `owed_by_all` read for the whole portfolio (else this chunk's counterparties are read)."""
    return build(read(session, rt, ids, owed))


@dataclass(frozen=True)
class Rows:
    """What `read` fetched for a chunk, not parsed yet (`whatif` reads the next chunk in a
    helper thread while this one is parsed and scored)."""

    contracts: list[Any]
    tracked: dict[int, dict[str, tuple[str, str | None]]]
    parties: dict[int, tuple[str, Any, str | None]]  # id -> (status, credit limit, rating)
    totals: dict[int, Decimal]  # party -> counted exposure of its active contracts
    own: dict[int, Decimal]  # contract -> its own counted outstanding amount


def read(
    session: Session,
    rt: Runtime,
    ids: Sequence[int],
    owed: Mapping[int, list[Owed]] | None = None,
) -> Rows:
    """The database half of `load`: three statements (four without `owed`)."""
    if not ids:
        return Rows([], {}, {}, {}, {})
    c, r = m.Contract, m.ContractRevision
    rows = session.execute(
        select(
            c.id,
            c.code,
            c.current_revision,
            c.stage,
            c.workflow_id,
            c.owner_id,
            c.amount_base,
            c.max_severity,
            c.counterparty_id,
            cast(r.terms, Text),
        )
        .join(r, and_(r.contract_id == c.id, r.number == c.current_revision))
        .where(c.id.in_(list(ids)))
        .order_by(c.id)
    ).all()
    tracked: dict[int, dict[str, tuple[str, str | None]]] = {}
    for cid, oid, status, on in session.execute(
        select(
            m.Obligation.contract_id,
            m.Obligation.oid,
            m.Obligation.status,
            m.Obligation.fulfilled_on,
        ).where(m.Obligation.contract_id.in_(list(ids)), m.Obligation.status != "open")
    ):
        tracked.setdefault(cid, {})[oid] = (status, on.isoformat() if on else None)
    parties = {row[8] for row in rows if row[8] is not None}
    if owed is None:
        owed = owed_by(session, rt, parties)
    p = m.Counterparty
    records = {
        pid: (status, limit, rating)
        for pid, status, limit, rating in session.execute(
            select(p.id, p.status, p.credit_limit, p.rating).where(p.id.in_(parties))
        )
    }
    # Each party's counted total once; a contract's `exposure_other` is that total less its
    # own share (summing the party's list per contract was quadratic in its contracts).
    totals = {pid: exposure_of(owed.get(pid, ())) for pid in parties}
    own = {x.contract_id: x.outstanding for pid in parties for x in owed.get(pid, ()) if x.counts}
    return Rows(list(rows), tracked, records, totals, own)


def build(batch: Rows) -> list[Stored]:
    """The CPU half of `load`: parse each contract's terms and attach its register facts."""
    tracked, records, totals, own = batch.tracked, batch.parties, batch.totals, batch.own
    out: list[Stored] = []
    for cid, code, rev, stage, wid, owner, base, sev, pid, text in batch.contracts:
        if cid in tracked:
            terms = json.loads(text)
            settled = tracked[cid]
            terms["obligations"] = [
                {**ob, "status": settled[ob["id"]][0], "fulfilled_on": settled[ob["id"]][1]}
                if ob.get("id") in settled
                else ob
                for ob in terms.get("obligations") or []
            ]
            contract = Contract.model_validate(terms, context={"stored": True})
        else:
            contract = Contract.model_validate_json(text, context={"stored": True})
        if pid is not None:
            record = records.get(pid)
            facts = (
                UNREGISTERED
                if record is None
                else RegisterFacts(
                    status=CounterpartyStatus(record[0]),
                    credit_limit=record[1],
                    exposure_other=totals[pid] - own.get(cid, _ZERO),
                    rating=rating_of(record[2]),
                )
            )
            contract = with_register(contract, facts)
        out.append(Stored(cid, code, rev, stage, wid, owner, base, sev, contract))
    return out
