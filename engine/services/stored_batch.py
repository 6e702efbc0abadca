"""Stored contracts read in bulk as the rules score them: current terms, obligation
statuses as tracked, and their counterparty's register facts (each contract's own
outstanding amount left out of its `exposure_other`).

Used by the risk warnings after a register change and by `rules whatif`; both read a
few thousand contracts per statement instead of two queries per contract.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, cast, select
from sqlalchemy.orm import Session

from engine.domain.contract import Contract
from engine.domain.counterparty import with_register
from engine.services.register import facts_for, owed_by
from engine.services.runtime import Runtime
from engine.store import models as m


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


def load(session: Session, rt: Runtime, ids: Sequence[int]) -> list[Stored]:
    """The contracts `ids` (in id order) with their register facts."""
    if not ids:
        return []
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
    owed = owed_by(session, rt, parties)
    records = {
        p.id: p
        for p in session.scalars(select(m.Counterparty).where(m.Counterparty.id.in_(parties)))
    }
    out: list[Stored] = []
    for cid, code, rev, stage, wid, owner, base, sev, pid, text in rows:
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
            contract = with_register(contract, facts_for(records.get(pid), owed[pid], cid))
        out.append(Stored(cid, code, rev, stage, wid, owner, base, sev, contract))
    return out
