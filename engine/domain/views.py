"""What services return to interfaces: the CLI prints these, the web app renders them.

Plain frozen pydantic models, so `--format json`, the JSON API and the HTML pages show
the same data. The CLI's `show --format json` is `ContractView` dumped as JSON.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.domain.agreement import TermWarning
from engine.domain.risk import Flag


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class TaskView(_View):
    """One entry of someone's work. `kind` is `approve` for an approval task (`assignee`
    is null while any holder of `role` may act) or `revise` for a contract handed back to
    its owner (`id` is then the task whose decision sent it back; `decided_by`, `comment`
    and `decision` say who, why and how; SPEC section 12)."""

    id: int
    kind: str = "approve"
    contract: str
    contract_title: str = ""
    stage: str
    role: str
    assignee: str | None = None
    due: dt.datetime | None = None
    status: str
    overdue: bool = False
    revision: int = 1
    approvals_required: int = 1
    approved_by: list[str] = Field(default_factory=list)
    escalate_to: str | None = None
    escalated_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    decided_by: str | None = None
    comment: str | None = None
    amendment: int | None = None  # the amendment's number, for a task of an amendment
    decision: str | None = None
    summary: str | None = None


class HistoryEntry(_View):
    """One audit event: who did what, for whom, from which stage to which."""

    seq: int
    at: dt.datetime
    action: str
    actor: str | None = None
    on_behalf_of: str | None = None
    task: int | None = None
    from_stage: str | None = None
    to_stage: str | None = None
    revision: int | None = None
    comment: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ObligationView(_View):
    id: str
    party: str
    kind: str
    description: str = ""
    due: dt.date
    amount: Decimal | None = None
    status: str
    fulfilled_on: dt.date | None = None
    owner: str | None = None


class GuaranteeView(_View):
    id: str
    kind: str
    amount: Decimal
    issuer: str | None = None
    expires_on: dt.date | None = None


class TermChange(_View):
    """A term that differs from the previous revision (`field` is a path like `amount`)."""

    field: str
    before: Any = None
    after: Any = None


class AmendmentView(_View):
    """One amendment of a contract (SPEC section 8): `status` is open, in_force, rejected
    (or cancelled, when the contract was terminated while it was open)."""

    number: int
    status: str
    reason: str
    changes: list[TermChange] = Field(default_factory=list)
    stage: str
    workflow: str = "amendment"
    workflow_version: int = 1
    submitted_by: str
    submitted_at: dt.datetime
    closed_at: dt.datetime | None = None
    base_revision: int
    revision: int | None = None  # the contract revision it became, once in force
    max_severity: str = "none"


class RevisionView(_View):
    number: int
    submitted_by: str
    submitted_at: dt.datetime
    source: str = ""
    changes: list[TermChange] = Field(default_factory=list)


class ContractView(_View):
    """A contract as `contractflow show` prints it (SPEC section 4 plus useful extras)."""

    id: str
    title: str
    stage: str
    status: str
    workflow: str
    workflow_version: int
    max_severity: str
    flags: list[Flag] = Field(default_factory=list)
    tasks: list[TaskView] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    direction: str
    counterparty: str
    currency: str
    amount: Decimal
    amount_base: Decimal
    owner: str
    submitted_by: str
    revision: int
    revisions: list[RevisionView] = Field(default_factory=list)
    obligations: list[ObligationView] = Field(default_factory=list)
    guarantees: list[GuaranteeView] = Field(default_factory=list)
    terms: dict[str, Any] = Field(default_factory=dict)
    amendments: list[AmendmentView] = Field(default_factory=list)
    renews: str | None = None  # the contract this one renews
    renewed_by: str | None = None  # the contract that renews this one
    terminated_on: dt.date | None = None
    #: Terms that do not agree (amount, installments, payment obligations): named warnings.
    warnings: list[TermWarning] = Field(default_factory=list)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class ActOutcome(_View):
    """What one accepted task action did (`lifecycle.decide`)."""

    contract: str
    task: int
    action: str
    task_status: str
    from_stage: str
    stage: str
    status: str


class ContractSummary(_View):
    """One line of a contract list."""

    id: str
    title: str
    stage: str
    status: str
    workflow: str
    workflow_version: int
    max_severity: str
    owner: str
    amount: Decimal
    currency: str
    updated_at: dt.datetime | None = None


class WorkflowView(_View):
    workflow: str
    version: int
    description: str = ""
    contracts: int = 0
    active_contracts: int = 0
    latest: bool = False
    stages: list[str] = Field(default_factory=list)
    source: str = ""
    loaded_at: dt.datetime | None = None


class DelegationView(_View):
    id: int
    from_user: str
    to_user: str
    starts_on: dt.date
    ends_on: dt.date


class AuditReport(_View):
    """`audit verify`: `verified` is false when any contract's chain does not check out."""

    verified: bool
    contracts: int
    events: int
    problems: list[str] = Field(default_factory=list)
