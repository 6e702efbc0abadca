"""Hand-back entries (SPEC section 12): a contract sent back by `request_changes` or
`reject` is work for its owner and submitter until they revise or withdraw it.

The entry is derived, not stored: a contract that is `active`, waits in its workflow's
first stage, and whose current revision has a task closed as `changes_requested` or
`rejected`. Revising raises the revision (the entry goes), withdrawing changes the status
(the entry goes), so there is nothing to keep in step. The statement starts from the
(status, stage) index - only contracts sitting in a first stage are read - whatever the
size of the portfolio.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from engine.domain.views import TaskView
from engine.errors import ContractflowError
from engine.store import models as m

HANDED_BACK = ("changes_requested", "rejected")
_VERBS = {"changes_requested": "changes requested", "rejected": "rejected"}

_FIRST_STAGES: dict[int, str] = {}


def first_stages(session: Session) -> dict[int, str]:
    """Workflow definition id -> its first stage (stored versions never change)."""
    from engine.services.workflows import spec_for

    found: dict[int, str] = {}
    for definition_id in session.scalars(select(m.WorkflowDefinition.id)):
        if definition_id not in _FIRST_STAGES:
            try:
                _FIRST_STAGES[definition_id] = spec_for(session, definition_id).first.id
            except ContractflowError:  # a stored text that no longer parses runs nothing
                continue
        found[definition_id] = _FIRST_STAGES[definition_id]
    return found


def summary_line(code: str, status: str, reviewer: str | None, comment: str | None) -> str:
    """`revise SC-2027-0001 (changes requested by fei: the cap is too low)`."""
    who = f" by {reviewer}" if reviewer else ""
    said = f": {comment}" if comment else ""
    return f"revise {code} ({_VERBS.get(status, status)}{who}{said})"


def hand_back_entries(session: Session, user_ids: list[int] | None) -> list[TaskView]:
    """Open hand-back entries of contracts these users own or submitted (every one when
    None), newest hand-back first."""
    stages = first_stages(session)
    if not stages:
        return []
    owner, reviewer = aliased(m.User), aliased(m.User)
    query = (
        select(
            m.Contract.code,
            m.Contract.title,
            m.Contract.stage,
            m.Contract.workflow_id,
            m.Contract.current_revision,
            owner.username,
            m.Task.id,
            m.Task.role,
            m.Task.status,
            m.Task.comment,
            m.Task.closed_at,
            m.Task.created_at,
            reviewer.username,
        )
        .join(
            m.Task,
            (m.Task.contract_id == m.Contract.id)
            & (m.Task.revision == m.Contract.current_revision)
            & m.Task.status.in_(HANDED_BACK),
        )
        .join(owner, owner.id == m.Contract.owner_id)
        .outerjoin(reviewer, reviewer.id == m.Task.decided_by_id)
        .where(m.Contract.status == "active", m.Contract.stage.in_(sorted(set(stages.values()))))
        .order_by(m.Task.closed_at.desc(), m.Task.id.desc())
    )
    if user_ids is not None:
        query = query.where(
            m.Contract.owner_id.in_(user_ids) | m.Contract.submitted_by_id.in_(user_ids)
        )
    seen: set[str] = set()
    out: list[TaskView] = []
    for (
        code,
        title,
        stage,
        workflow_id,
        revision,
        owner_name,
        task_id,
        role,
        status,
        comment,
        closed_at,
        created_at,
        reviewer_name,
    ) in session.execute(query):
        if stage != stages.get(workflow_id) or code in seen:
            continue
        seen.add(code)  # one entry per contract: its latest hand-back
        out.append(
            TaskView(
                id=task_id,
                kind="revise",
                contract=code,
                contract_title=title,
                stage=stage,
                role=role,
                assignee=owner_name,
                status="open",
                revision=revision,
                created_at=closed_at or created_at,
                decided_by=reviewer_name,
                comment=comment,
                decision=status,
                summary=summary_line(code, status, reviewer_name, comment),
            )
        )
    return out


def entries_for(session: Session, user_id: int) -> list[TaskView]:
    return hand_back_entries(session, [user_id])
