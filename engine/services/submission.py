"""Submit and revise: a contract file into its workflow (a new contract, or a new revision
of one sent back to its first stage)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.domain.contract import Contract, CreditRating
from engine.domain.counterparty import UNREGISTERED, with_register
from engine.domain.risk import RiskReport
from engine.domain.views import ContractView
from engine.domain.workflow import WorkflowSpec
from engine.errors import Conflict, InvalidInput
from engine.services import audit, register
from engine.services import task_notices as notices
from engine.services import transitions as tx
from engine.services.contracts import read_contract
from engine.services.documents import revision_document
from engine.services.revisions import (
    Prepared,
    owner_id_for,
    store_new,
    store_revision,
    terms_fields,
)
from engine.services.runtime import Runtime
from engine.services.transitions import Someone
from engine.services.unit_of_work import (
    evaluator_ready,
    get_user,
    lock_row,
    require_role,
    table,
    unit_of_work,
)
from engine.services.views import (
    contract_view,
    get_contract_row,
    term_changes,
)
from engine.services.workflows import latest_definition_id, spec_for
from engine.store import models as m
from engine.workflow.machine import (
    ContractState,
    Submit,
    transition,
)

if TYPE_CHECKING:
    pass


DEFAULT_WORKFLOW = "standard"
AMENDMENT_WORKFLOW = "amendment"  # engine.services.amendments runs it


SUBMITTER_ROLES = frozenset({"contract_admin", "admin"})


def _next_code(session: Session, contract: Contract, year: int) -> str:
    """SC-YYYY-NNNN (sales) or PO-YYYY-NNNN (purchases): the next free number.

    A counter row per prefix, bumped in place (the UPDATE locks it until our commit),
    makes this O(1) however many contracts exist; numbers taken by hand-written ids are
    skipped.
    """
    prefix = f"{'PO' if contract.direction.value == 'buy' else 'SC'}-{year}-"
    counters = table(m.ContractCounter)
    conn = session.connection()
    while True:
        last = conn.scalar(
            update(counters)
            .where(counters.c.prefix == prefix)
            .values(last=counters.c.last + 1)
            .returning(counters.c.last)
        )
        if last is None:  # the first number of this prefix
            last = _highest_number(session, prefix) + 1
            conn.execute(insert(counters).values(prefix=prefix, last=last))
        code = f"{prefix}{last:04d}"
        if session.scalar(select(m.Contract.id).where(m.Contract.code == code)) is None:
            return code


def _highest_number(session: Session, prefix: str) -> int:
    """Where a new counter starts: the highest number already used (one scan, once)."""
    tails = [
        c[len(prefix) :]
        for c in session.scalars(select(m.Contract.code).where(m.Contract.code.like(f"{prefix}%")))
    ]
    return max((int(t) for t in tails if t.isdigit()), default=0)


def _prepare(rt: Runtime, contract: Contract) -> Prepared:
    assert contract.id is not None
    return Prepared(
        report=rt.evaluator.evaluate([contract], rt.today())[0],
        document=revision_document(rt, contract.id, 1, contract),
    )


def submit(rt: Runtime, path: Path, username: str, workflow: str | None = None) -> ContractView:
    """`contractflow submit FILE`: store a draft and submit it into its workflow.

    A file whose `id` names a stored contract is a revision of it (see `revise`).
    """
    contract = read_contract(rt, path)
    return submit_contract(rt, contract, username, workflow=workflow, source=path.name)


def submit_contract(
    rt: Runtime,
    contract: Contract,
    username: str,
    *,
    workflow: str | None = None,
    source: str = "",
    renews: str | None = None,
) -> ContractView:
    """Submit an already-read `Contract` (the web app's upload path uses this).

    `renews` names the contract this one succeeds (`renewals.renew`): linked, and the old
    contract's audit chain records the renewal, in the same transaction.

    A new contract is scored and its document rendered before the write transaction
    opens (both need only the terms and the id), so the transaction holds its locks -
    SQLite's database lock, the new row's on PostgreSQL - only for the INSERTs.
    """
    if workflow == AMENDMENT_WORKFLOW:
        raise InvalidInput(
            "--workflow: amendment runs amendments of signed contracts (contractflow amend)"
        )
    now = rt.clock()
    evaluator_ready(rt)
    if contract.id is None:
        # Taken in a short transaction of its own, so submits without an id do not queue
        # behind each other's whole submission (a failed submit leaves a gap: harmless).
        with unit_of_work(rt) as session:
            user = get_user(session, username)
            require_role(user, SUBMITTER_ROLES, "submit contracts")
            code = _next_code(session, contract, rt.today().year)
            facts = register.facts_seen(session, rt, contract)
        contract = contract.model_copy(update={"id": code})
        fresh = new = True
    else:
        fresh = False  # a written id: a new contract, or a revision of a stored one
        with rt.db.reads() as session:
            user = get_user(session, username)
            require_role(user, SUBMITTER_ROLES, "submit contracts")
            new = (
                session.scalar(select(m.Contract.id).where(m.Contract.code == contract.id)) is None
            )
            facts = register.facts_seen(session, rt, contract) if new else UNREGISTERED
    prepared = _prepare(rt, with_register(contract, facts)) if new else None
    with unit_of_work(rt) as session:
        # The user and their role were checked a moment ago (taking the number, or
        # looking the id up): a role taken away in between applies from the next call.
        existing = (
            None  # the number was free when taken
            if fresh
            else session.scalar(select(m.Contract).where(m.Contract.code == contract.id))
        )
        if existing is not None:
            if workflow is not None:
                name = spec_for(session, existing.workflow_id).name
                if name != workflow:
                    raise InvalidInput(
                        f"--workflow: {contract.id} already runs on workflow {name}; "
                        "a revision stays on it"
                    )
            _revise_in(session, rt, existing, contract, user, source, now)
            return contract_view(session, rt, existing)
        # The counterparty's row stays locked until commit: a racing submit for it waits
        # here and then sees this contract in the exposure (SPEC 7).
        party = register.link(session, contract, now)
        owed = register.owed_by(session, rt, [party.id])[party.id]
        facts_now = register.facts_for(party, owed)
        if prepared is None or facts_now != facts:
            # What the register says changed since the draft was scored: score it again.
            prepared = _prepare(rt, with_register(contract, facts_now))
        definition_id = latest_definition_id(session, workflow or DEFAULT_WORKFLOW)
        spec = spec_for(session, definition_id)
        assert contract.id is not None
        owner_id = owner_id_for(session, contract, user)
        row = m.Contract(
            code=contract.id,
            owner_id=owner_id,
            submitted_by_id=user.id,
            workflow_id=definition_id,
            stage=spec.first.id,
            status="active",
            counterparty_id=party.id,
            current_revision=1,
            max_severity=prepared.report.max_severity.value,
            created_at=now,
            updated_at=now,
        )
        terms_fields(row, contract, rt.risk_config.to_base(contract.amount, contract.currency))
        renewed = _renewed(session, renews, row, now) if renews else None
        session.add(row)
        session.flush()
        store_new(session, row, contract, prepared, user, source, now)
        enter_workflow(
            session,
            rt,
            row,
            spec,
            contract,
            prepared.report,
            user,
            now,
            "submit",
            {
                "workflow": spec.name,
                "version": spec.version,
                "source": source,
                **({"renews": renews} if renews else {}),
            },
        )
        if renewed is not None:
            audit.append(
                session,
                renewed.id,
                "renew",
                at=now,
                actor_id=user.id,
                from_stage=renewed.stage,
                to_stage=renewed.stage,
                revision=renewed.current_revision,
                details={"renewed_by": row.code},
            )
        return contract_view(session, rt, row)


def _renewed(session: Session, code: str, successor: m.Contract, now: dt.datetime) -> m.Contract:
    """The contract a renewal succeeds, locked; refused when another renewal got there first."""
    old = session.scalar(select(m.Contract).where(m.Contract.code == code))
    if old is None:
        raise Conflict(f"{code} does not exist")
    lock_row(old, now)
    session.flush()
    taken = session.scalar(select(m.Contract.code).where(m.Contract.renews_id == old.id))
    if taken is not None:
        raise Conflict(f"{code} is already renewed by {taken}")
    successor.renews_id = old.id
    return old


def revise(rt: Runtime, code: str, path: Path, username: str) -> ContractView:
    """`contractflow revise CONTRACT FILE`: store a new revision and resubmit it.

    Allowed while the contract waits in its workflow's first stage (after
    `request_changes` or `reject`). Tasks of earlier revisions stay closed: their
    approvals do not count for the new terms, which go through review again.
    """
    contract = read_contract(rt, path)
    if contract.id is not None and contract.id != code:
        raise InvalidInput(f"{path}: id: {contract.id} is not the contract {code} being revised")
    now = rt.clock()
    evaluator_ready(rt)
    with unit_of_work(rt) as session:
        user = get_user(session, username)
        require_role(user, SUBMITTER_ROLES, "revise contracts")
        row = get_contract_row(session, code)
        _revise_in(session, rt, row, contract.model_copy(update={"id": code}), user, path.name, now)
        return contract_view(session, rt, row)


def _revise_in(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    contract: Contract,
    user: Someone,
    source: str,
    now: dt.datetime,
) -> None:
    spec = spec_for(session, row.workflow_id)
    if row.status != "active" or row.stage != spec.first.id:
        raise Conflict(
            f"{row.code} is in {row.stage} ({row.status}); a revision can be submitted only "
            f"while it is back in {spec.first.id} (after request_changes or reject)"
        )
    lock_row(row, now)
    session.flush()
    row.counterparty_id = register.link(session, contract, now).id
    previous = session.scalar(
        select(m.ContractRevision.terms).where(
            m.ContractRevision.contract_id == row.id,
            m.ContractRevision.number == row.current_revision,
        )
    )
    contract = _keep_internal_terms(contract, previous or {}, source)
    row.owner_id = owner_id_for(session, contract, user)
    row.current_revision += 1
    terms_fields(row, contract, rt.risk_config.to_base(contract.amount, contract.currency))
    terms, report = store_revision(session, rt, row, contract, user, source, now)
    changes = [c.field for c in term_changes(previous or {}, terms)]
    enter_workflow(
        session,
        rt,
        row,
        spec,
        contract,
        report,
        user,
        now,
        "revise",
        {
            "source": source,
            "changed": changes,
        },
        changes=notices.change_rows(previous or {}, terms),
    )


def _keep_internal_terms(contract: Contract, previous: dict[str, Any], source: str) -> Contract:
    """The contract document we send out does not print our own data about the deal (our
    credit rating of the counterparty, our administrator), so a revision uploaded as that
    edited Word document lacks them: keep the stored values instead of erasing them."""
    if not source.lower().endswith(".docx"):
        return contract
    update: dict[str, Any] = {}
    rating = (previous.get("counterparty") or {}).get("credit_rating")
    if contract.counterparty.credit_rating is None and rating:
        update["counterparty"] = contract.counterparty.model_copy(
            update={"credit_rating": CreditRating(rating)}
        )
    if contract.owner is None and previous.get("owner"):
        update["owner"] = previous["owner"]
    return contract.model_copy(update=update) if update else contract


def enter_workflow(
    session: Session,
    rt: Runtime,
    row: m.Contract,
    spec: WorkflowSpec,
    contract: Contract,
    report: RiskReport,
    user: Someone,
    now: dt.datetime,
    action: str,
    details: dict[str, Any],
    changes: list[dict[str, Any]] | None = None,
) -> None:
    """Submit the revision just stored into the workflow (tasks, stage, audit event, and
    the emails of the tasks it opens)."""
    state = ContractState(
        stage=row.stage,
        status=row.status,
        submitter=user.username,
        open_obligations=sum(1 for o in contract.obligations if o.status.value == "open"),
    )
    when = tx.when_from_report(contract, row.amount_base, report)
    tr = transition(spec, state, Submit(), tx.env(rt, session, when, now))
    row.submitted_by_id = user.id
    opened = tx.write(
        session,
        row,
        tr,
        {},
        now,
        action,
        {
            "actor_id": user.id,
            "revision": row.current_revision,
            "details": {
                **details,
                "moves": tx.moves(tr),
                "max_severity": report.max_severity.value,
            },
        },
        actor=user,
    )
    if opened:
        notices.queue_opened(
            session,
            rt,
            row,
            opened,
            now,
            submitter_id=user.id,
            self_approval=spec.self_approval_allowed(row.stage),
            flags=notices.flags_of_report(report),
            changes=changes or [],
        )
