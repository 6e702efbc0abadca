"""Contracts and tasks as a signed-in person may see them (lists for the pages and API)."""

from __future__ import annotations

from sqlalchemy import bindparam, select

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
    with rt.db.reads() as session:
        query = (
            summaries_query(status, stage)
            .where(access.visible_contracts(session, who, rt.today()))
            .limit(min(max(limit, 1), MAX_LIMIT))
            .offset(max(offset, 0))
        )
        return summaries(session, query)


#: Built once (its cache key and compiled form are reused): every API decision runs it.
_TASK_AND_CONTRACT = (
    select(m.Task.contract_id, m.Task.role, m.Task.assignee_id, m.Contract.code)
    .join(m.Contract, m.Contract.id == m.Task.contract_id)
    .where(m.Task.id == bindparam("task_id"))
)


def task_contract_code(rt: Runtime, who: Principal, task_id: int) -> str:
    """The contract a task belongs to, if `who` may see that contract.

    A task on a contract `who` may not see is refused as Forbidden (403): acting on it is
    not theirs to do, whether or not they could guess its number.

    The common case costs one statement: a task for a role `who` holds, or assigned to
    them, is itself what makes its contract visible (`access.visible_contracts`), so the
    delegation and ownership checks run only for the other tasks.
    """
    with rt.db.reads() as session:
        found = session.execute(_TASK_AND_CONTRACT, {"task_id": task_id}).first()
        if found is None:
            raise NotFound(f"task {task_id} does not exist")
        if found.role in who.roles or found.assignee_id == who.id or who.has(*access.SEE_ALL):
            return str(found.code)
        code = session.scalar(
            select(m.Contract.code).where(
                m.Contract.id == found.contract_id,
                access.visible_contracts(session, who, rt.today()),
            )
        )
        if code is None:
            raise Forbidden(f"{who.username} may not act on task {task_id}")
        return code
