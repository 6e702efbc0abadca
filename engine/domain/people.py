"""Users and the roles they hold."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    """Roles known to the product. Workflow files may name only these."""

    CONTRACT_ADMIN = "contract_admin"
    LEGAL = "legal"
    LEGAL_LEAD = "legal_lead"
    FINANCE = "finance"
    FINANCE_LEAD = "finance_lead"
    RISK_OFFICER = "risk_officer"
    PROCUREMENT = "procurement"
    SIGNER = "signer"
    CONTRACT_MANAGER = "contract_manager"
    ADMIN = "admin"


ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.CONTRACT_ADMIN: "drafts, submits and follows contracts",
    Role.LEGAL: "reviews terms in legal review",
    Role.LEGAL_LEAD: "receives escalated legal tasks",
    Role.FINANCE: "reviews large amounts and payment terms",
    Role.FINANCE_LEAD: "receives escalated finance tasks",
    Role.RISK_OFFICER: "reviews contracts routed for risk",
    Role.PROCUREMENT: "reviews purchase contracts",
    Role.SIGNER: "signs on behalf of the company",
    Role.CONTRACT_MANAGER: "oversees the portfolio; told about critical overdue obligations",
    Role.ADMIN: "manages users, workflows and reassigns tasks",
}


class UserView(BaseModel):
    """A user as commands and the API print it (never the password hash)."""

    model_config = ConfigDict(frozen=True)

    username: str
    #: The name people read (e.g. 张伟); null: pages and emails show `username`.
    display_name: str | None = None
    email: str | None = None
    roles: list[str] = Field(default_factory=list)
    active: bool = True
    notify: str = "immediate"  # task emails: immediate | digest | off
    #: The team the user belongs to (scorecards group owners by it); null: no team.
    team: str | None = None


class Principal(BaseModel):
    """The signed-in user as the access checks see them (re-exported by
    `engine.services.auth`, which makes them)."""

    model_config = ConfigDict(frozen=True)

    id: int
    username: str
    roles: frozenset[str]
    email: str | None = None

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)
