"""Contracts and tasks as a signed-in person may see them (lists for the pages and API)."""

from __future__ import annotations

from sqlalchemy import select

from engine.domain.views import ContractSummary
from engine.errors import Forbidden, NotFound
from engine.services import access
from engine.services.auth import Principal
from engine.services.runtime import Runtime
from engine.services.views import summaries, summaries_query
from engine.store import models as m

MAX_LIMIT = 500


def visible_contract_list(
    rt: Runtime,
    who: Principal,
    *,
    status: str | None = None,
    stage: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[ContractSummary]:
    """Contracts `who` may see, most recently changed first."""
    with rt.db.sessions() as session:
        query = (
            summaries_query(status, stage)
            .where(access.visible_contracts(session, who, rt.today()))
            .limit(min(max(limit, 1), MAX_LIMIT))
            .offset(max(offset, 0))
        )
        return summaries(session, query)


def task_contract_code(rt: Runtime, who: Principal, task_id: int) -> str:
    """The contract a task belongs to, if `who` may see that contract.

    A task on a contract `who` may not see is refused as Forbidden (403): acting on it is
    not theirs to do, whether or not they could guess its number.
    """
    with rt.db.sessions() as session:
        contract_id = session.scalar(select(m.Task.contract_id).where(m.Task.id == task_id))
        if contract_id is None:
            raise NotFound(f"task {task_id} does not exist")
        code = session.scalar(
            select(m.Contract.code).where(
                m.Contract.id == contract_id, access.visible_contracts(session, who, rt.today())
            )
        )
        if code is None:
            raise Forbidden(f"{who.username} may not act on task {task_id}")
        return code
