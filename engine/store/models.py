"""Tables. Constraints live in the schema (unique keys, foreign keys, CHECKs on enums and
amounts) so that no code path, ours or a DBA's, can store what the product would refuse.

Conventions after Prefect's orm_models: a typed declarative base with a naming convention
(stable constraint names for Alembic), `lazy="raise"` on relationships so every query says
what it loads, UTC-aware timestamps, a `version` column for optimistic locking on rows that
people race on (contracts, tasks).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(18, 2)
PERCENT = Numeric(9, 4)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on every backend (SQLite stores naive text; we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _in(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


DIRECTIONS = ["sell", "buy"]
CONTRACT_STATUSES = ["active", "closed", "withdrawn", "terminated"]
SEVERITIES = ["none", "low", "medium", "high", "critical"]
FLAG_SEVERITIES = ["low", "medium", "high", "critical"]
GUARANTEE_KINDS = [
    "bank_guarantee",
    "standby_lc",
    "credit_insurance",
    "collateral",
    "parent_guarantee",
    "advance_payment_guarantee",
    "performance_bond",
]
PARTIES = ["counterparty", "us"]
OBLIGATION_KINDS = ["payment", "delivery", "service", "document", "other"]
OBLIGATION_STATUSES = ["open", "fulfilled", "waived"]
TASK_STATUSES = ["open", "approved", "rejected", "changes_requested", "cancelled"]
OUTBOX_STATUSES = ["pending", "sent", "failed", "cancelled"]
OUTBOX_KINDS = [
    "obligation_alert",
    "task_escalation",
    "contract_expiry",
    "renewal_notice",
    "risk_warning",
    "task_notice",
    "revise_notice",
    "task_digest",
]
AMENDMENT_STATUSES = ["open", "in_force", "rejected", "cancelled"]
COUNTERPARTY_STATUSES = ["active", "watch", "blocked"]
CREDIT_RATINGS = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"]
NOTIFY_PREFERENCES = ["immediate", "digest", "off"]
DOCUMENT_KINDS = ["contract", "diff", "report"]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class Role(Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    #: The name people read (e.g. 张伟); pages and emails fall back to `username` without it.
    display_name: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Task emails: at once, in one daily digest, or none (SPEC section 9).
    notify: Mapped[str] = mapped_column(String(10), default="immediate", server_default="immediate")
    #: A sales (or other) team, for scorecards by team; null: none.
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Pages and emails in this language (en, zh-CN); None: the browser's, else the default.
    language: Mapped[str | None] = mapped_column(String(10))

    roles: Mapped[list[UserRole]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", back_populates="user"
    )

    __table_args__ = (
        CheckConstraint("length(username) > 0", name="username_not_empty"),
        CheckConstraint(_in("notify", NOTIFY_PREFERENCES), name="notify"),
        CheckConstraint(_in("language", ["en", "zh-CN"]), name="language"),
    )

    @property
    def role_names(self) -> list[str]:
        return sorted(r.role for r in self.roles)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"), primary_key=True)

    user: Mapped[User] = relationship(back_populates="roles", lazy="raise")

    __table_args__ = (Index("ix_user_roles_role", "role"),)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie holds a random id; only its SHA-256 is stored, and a
    request is signed in only while its row is here, unexpired and not revoked: logout,
    a password change, losing a role or deactivation end sessions at once."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class SignInThrottle(Base):
    """Failed sign-ins counted per key (`account:NAME`, `address:IP`, `pair:NAME@IP`), in
    the database so every uvicorn worker and a restart see the same counts."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime]
    blocked_until: Mapped[dt.datetime | None]

    __table_args__ = (CheckConstraint("failures >= 0", name="failures_not_negative"),)


class AdminEvent(Base):
    """Append-only record of administration (users, roles, passwords, tokens, workflows).
    Triggers refuse UPDATE and DELETE, as on `audit_events`."""

    __tablename__ = "admin_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Who did it as text: a user name, or `cli:OSUSER` for a command run without `--as`.
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_admin_events_at", "at"),)


class Delegation(Base):
    """Out of office: `from_user`'s tasks may be acted on by `to_user` between two dates."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        CheckConstraint("from_user_id <> to_user_id", name="not_self"),
    )


class WorkflowDefinition(Base):
    __tablename__ = "workflow_definitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    source_text: Mapped[str] = mapped_column(Text)
    source_path: Mapped[str] = mapped_column(String(500), default="")
    checksum: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_workflow_definitions_name_version"),
        CheckConstraint("version > 0", name="version_positive"),
    )


class Counterparty(Base):
    """A record of the counterparty register (SPEC 7) that risk officers keep.

    `name_key` is the normalised name (case and spaces ignored) contracts without a code
    link by. Submits lock the row (SELECT ... FOR UPDATE) while they score the exposure,
    so two contracts for one counterparty cannot both slip under its limit.
    """

    __tablename__ = "counterparties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str | None] = mapped_column(String(18), unique=True)
    rating: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="active", server_default="active")
    credit_limit: Mapped[Decimal | None] = mapped_column(MONEY)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(_in("status", COUNTERPARTY_STATUSES), name="status"),
        CheckConstraint(f"rating IS NULL OR {_in('rating', CREDIT_RATINGS)}", name="rating"),
        CheckConstraint("credit_limit IS NULL OR credit_limit >= 0", name="credit_limit"),
        CheckConstraint("length(name_key) > 0", name="name_key_not_empty"),
    )


class CounterpartyChange(Base):
    """The register's history: one row per changed field (append-only, like the audit)."""

    __tablename__ = "counterparty_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counterparty_id: Mapped[int] = mapped_column(ForeignKey("counterparties.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    field: Mapped[str] = mapped_column(String(20))
    from_value: Mapped[str | None] = mapped_column(String(200))
    to_value: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_counterparty_changes_counterparty", "counterparty_id", "id"),)


class Contract(Base):
    """The current state of one contract; its terms per revision live in `contract_revisions`."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    direction: Mapped[str] = mapped_column(String(4))
    counterparty_name: Mapped[str] = mapped_column(String(200))
    # Set on submit (by code, else by normalised name); null only for rows written by
    # hand before the register existed and not yet migrated.
    counterparty_id: Mapped[int | None] = mapped_column(ForeignKey("counterparties.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    amount_base: Mapped[Decimal] = mapped_column(MONEY)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow_definitions.id"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="active")
    current_revision: Mapped[int] = mapped_column(Integer, default=1)
    max_severity: Mapped[str] = mapped_column(String(10), default="none")
    # Terms the expiry planner reads (copied from the current revision, like the dates).
    auto_renewal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    renewal_notice_days: Mapped[int | None] = mapped_column(Integer)
    # The contract this one renews (`renew`), and the day a `terminate` took effect.
    renews_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), unique=True)
    terminated_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The head of the contract's audit chain, so `audit verify` notices removed last events.
    audit_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    audit_head: Mapped[str] = mapped_column(String(64), default="", server_default=text("''"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        CheckConstraint(_in("status", CONTRACT_STATUSES), name="status"),
        CheckConstraint(_in("max_severity", SEVERITIES), name="max_severity"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount_base > 0", name="amount_base_positive"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("current_revision > 0", name="revision_positive"),
        Index("ix_contracts_stage_status", "status", "stage"),
        # The expiry planner: active contracts by end date.
        Index(
            "ix_contracts_active_end",
            "end_date",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        # The exposure lookup of every submit: a counterparty's active contracts.
        Index("ix_contracts_counterparty_status", "counterparty_id", "status"),
        # The contract list (engine.services.contract_list): its sorts, with the id as
        # tie-breaker, and an owner's contracts newest first (migration 0009).
        Index("ix_contracts_list_updated", "updated_at", "id"),
        Index("ix_contracts_list_amount", "amount", "id"),
        Index("ix_contracts_list_owner_updated", "owner_id", "updated_at", "id"),
        # Its text search (ILIKE '%...%') on PostgreSQL: pg_trgm GIN indexes. SQLite has no
        # trigram index; there they are plain indexes, which serve the sorts by id, title
        # and counterparty (a search reads the table: fine at SQLite's sizes).
        *(
            Index(
                f"ix_contracts_list_trgm_{column}",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
            for column in ("code", "title", "counterparty_name")
        ),
    )


class Amendment(Base):
    """A change to a signed contract, run through its own workflow instance (the
    `amendment` workflow) while the contract stays in fulfilment under the terms in force.
    Its tasks are `tasks` rows with `amendment_id` set; in force, its terms become the
    contract's next revision (docs/lifecycle.md)."""

    __tablename__ = "amendments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow_definitions.id"))
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="open")
    reason: Mapped[str] = mapped_column(Text)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source_name: Mapped[str] = mapped_column(String(255), default="")
    base_revision: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int | None] = mapped_column(Integer)  # the contract revision it became
    max_severity: Mapped[str] = mapped_column(String(10), default="none")
    # The amended terms' risk when opened (categories, rules, flags): what routes read.
    risk: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("contract_id", "number", name="uq_amendments_contract_number"),
        CheckConstraint(_in("status", AMENDMENT_STATUSES), name="status"),
        CheckConstraint("number > 0", name="number_positive"),
        # One open amendment per contract, whoever races to open a second.
        Index(
            "uq_amendments_one_open",
            "contract_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )


class ContractCounter(Base):
    """The last number handed out per id prefix (`SC-2027-`), so assigning a contract id
    is one locked row update instead of a scan of every code of the year."""

    __tablename__ = "contract_counters"

    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ContractRevision(Base):
    """Every submitted revision, kept: the terms as submitted, who and when."""

    __tablename__ = "contract_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_name: Mapped[str] = mapped_column(String(255), default="")
    checksum: Mapped[str] = mapped_column(String(64))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("contract_id", "number", name="uq_contract_revisions_contract_number"),
        CheckConstraint("number > 0", name="number_positive"),
    )


class Guarantee(Base):
    """Guarantees of the contract's current revision (replaced on revise)."""

    __tablename__ = "guarantees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    gid: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    issuer: Mapped[str | None] = mapped_column(String(200))
    expires_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        UniqueConstraint("contract_id", "gid", name="uq_guarantees_contract_gid"),
        CheckConstraint(_in("kind", GUARANTEE_KINDS), name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )


class Obligation(Base):
    """Obligations of the current revision; fulfilment is tracked here."""

    __tablename__ = "obligations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    oid: Mapped[str] = mapped_column(String(32))
    party: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(500), default="")
    due: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(12), default="open")
    fulfilled_on: Mapped[dt.date | None] = mapped_column(Date)
    owner: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("contract_id", "oid", name="uq_obligations_contract_oid"),
        CheckConstraint(_in("party", PARTIES), name="party"),
        CheckConstraint(_in("kind", OBLIGATION_KINDS), name="kind"),
        CheckConstraint(_in("status", OBLIGATION_STATUSES), name="status"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_not_negative"),
        CheckConstraint(
            "(status = 'fulfilled') = (fulfilled_on IS NOT NULL)", name="fulfilled_on_iff_fulfilled"
        ),
        # The alert planner's index: open obligations by due date.
        Index(
            "ix_obligations_open_due",
            "due",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_obligations_contract", "contract_id"),
    )


class Task(Base):
    """One approval task: a role's part in a stage, on one revision of a contract."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    # Set on the tasks of an amendment's workflow (its stages, not the contract's).
    amendment_id: Mapped[int | None] = mapped_column(
        ForeignKey("amendments.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approvals_required: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="open")
    due_at: Mapped[dt.datetime | None]
    escalate_to: Mapped[str | None] = mapped_column(ForeignKey("roles.name"))
    escalated_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        CheckConstraint("approvals_required > 0", name="approvals_positive"),
        Index("ix_tasks_contract", "contract_id"),
        # An inbox reads open tasks of a role in (due date, id) order and stops after a
        # page: with `id` in the key that order comes from the index alone (many tasks
        # share a due date), and the included columns let a capped count skip the table.
        Index(
            "ix_tasks_open_role_due",
            "role",
            "due_at",
            "id",
            postgresql_where=text("status = 'open'"),
            postgresql_include=["assignee_id", "approvals_required"],
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_tasks_assignee", "assignee_id"),
    )


class Approval(Base):
    """One user's approval of a task (tasks needing N approvals collect N rows)."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revision: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("task_id", "user_id", name="uq_approvals_task_user"),)


class AuditEvent(Base):
    """Append-only, HMAC-chained per contract. Triggers refuse UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str | None] = mapped_column(String(64))
    revision: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the event pins (engine.store.audit_hash): the actor's name, and for the events
    # that bring in a revision (submit, revise) its terms' and kept document's checksums.
    actor_name: Mapped[str | None] = mapped_column(String(64))
    terms_sha256: Mapped[str | None] = mapped_column(String(64))
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    # The id of the key whose HMAC `hash` is (NULL: unkeyed, from before the key).
    key_id: Mapped[str | None] = mapped_column(String(16))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("contract_id", "seq", name="uq_audit_events_contract_seq"),
        CheckConstraint("seq > 0", name="seq_positive"),
    )


class RiskEvaluation(Base):
    """One scoring of one contract revision; the flags found hang off it (history kept)."""

    __tablename__ = "risk_evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[dt.date] = mapped_column(Date)
    ruleset_checksum: Mapped[str] = mapped_column(String(64))
    max_severity: Mapped[str] = mapped_column(String(10))
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    evaluated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(_in("max_severity", SEVERITIES), name="max_severity"),
        Index("ix_risk_evaluations_contract_current", "contract_id", "current"),
    )


class RuleSetVersion(Base):
    """A rule set `init` accepted: its files' text, so a broken rules/ folder cannot
    replace the one in use (only one row is `active`)."""

    __tablename__ = "rule_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64), unique=True)
    sources: Mapped[dict[str, Any]] = mapped_column(JSON)
    rules_count: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RiskFlag(Base):
    __tablename__ = "risk_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(
        ForeignKey("risk_evaluations.id", ondelete="CASCADE"), index=True
    )
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contracts.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(32))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (CheckConstraint(_in("severity", FLAG_SEVERITIES), name="severity"),)


class OutboxMessage(Base):
    """An email to send. `key` (e.g. `obligation:42:overdue`) makes each alert happen once."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id", ondelete="SET NULL"))
    obligation_id: Mapped[int | None] = mapped_column(
        ForeignKey("obligations.id", ondelete="SET NULL")
    )
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint(_in("kind", OUTBOX_KINDS), name="kind"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        # A revision deletes obligations; ON DELETE SET NULL then finds their alerts here
        # instead of scanning the whole (ever growing) outbox.
        Index("ix_outbox_obligation", "obligation_id"),
        # The sender's claim: pending rows in id order (oldest first), without sorting the
        # whole queue - 50,000 freshly planned rows sorted on disk took ~100 ms per batch.
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )


class ActionLinkUse(Base):
    """A one-click email link that has been used: only the SHA-256 of the signed token is
    kept (the token itself lives only in the email), and its uniqueness makes a link work
    once even when two clicks race."""

    __tablename__ = "action_link_uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))
    used_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A generated or uploaded document (.docx) kept per contract revision."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind"),
        Index("ix_documents_contract_revision", "contract_id", "revision"),
    )
