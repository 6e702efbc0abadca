"""amendments, renewals, termination, expiry alerts

Revision ID: 0007
Revises: 0004

- `amendments`: a change to a signed contract, with its own workflow stage; its tasks are
  `tasks` rows with the new `tasks.amendment_id`.
- `contracts`: status `terminated`; `terminated_on`; `renews_id` (the contract a renewal
  succeeds); `auto_renewal` and `renewal_notice_days`, copied from each contract's current
  revision (existing contracts are filled in from their stored terms), for the expiry
  planner; the partial index `ix_contracts_active_end`.
- `outbox.kind`: `contract_expiry` and `renewal_notice`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

_OLD_STATUSES = "status IN ('active', 'closed', 'withdrawn')"
_NEW_STATUSES = "status IN ('active', 'closed', 'withdrawn', 'terminated')"
_OLD_KINDS = "kind IN ('obligation_alert', 'task_escalation')"
_NEW_KINDS = "kind IN ('obligation_alert', 'task_escalation', 'contract_expiry', 'renewal_notice')"


def upgrade() -> None:
    op.create_table(
        "amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("base_revision", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("max_severity", sa.String(length=10), nullable=False),
        sa.Column("risk", sa.JSON(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'in_force', 'rejected', 'cancelled')",
            name=op.f("ck_amendments_status"),
        ),
        sa.CheckConstraint("number > 0", name=op.f("ck_amendments_number_positive")),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_amendments_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["users.id"], name=op.f("fk_amendments_submitted_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflow_definitions.id"],
            name=op.f("fk_amendments_workflow_id_workflow_definitions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendments")),
        sa.UniqueConstraint("contract_id", "number", name="uq_amendments_contract_number"),
    )
    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.create_index(
            "uq_amendments_one_open",
            ["contract_id"],
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auto_renewal", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(sa.Column("renewal_notice_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("renews_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("terminated_on", sa.Date(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_contracts_renews_id"), ["renews_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_contracts_renews_id_contracts"), "contracts", ["renews_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_contracts_status"), type_="check")
        batch_op.create_check_constraint("status", sa.text(_NEW_STATUSES))
        batch_op.create_index(
            "ix_contracts_active_end",
            ["end_date"],
            unique=False,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amendment_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_tasks_amendment_id"), ["amendment_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_tasks_amendment_id_amendments"),
            "amendments",
            ["amendment_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint("kind", sa.text(_NEW_KINDS))

    _copy_renewal_terms()


def _copy_renewal_terms() -> None:
    """Existing contracts: `auto_renewal` / `renewal_notice_days` from the current revision."""
    conn = op.get_bind()
    contracts = sa.table(
        "contracts",
        sa.column("id", sa.Integer()),
        sa.column("current_revision", sa.Integer()),
        sa.column("auto_renewal", sa.Boolean()),
        sa.column("renewal_notice_days", sa.Integer()),
    )
    revisions = sa.table(
        "contract_revisions",
        sa.column("contract_id", sa.Integer()),
        sa.column("number", sa.Integer()),
        sa.column("terms", sa.JSON()),
    )
    rows = conn.execute(
        sa.select(contracts.c.id, revisions.c.terms).join(
            revisions,
            (revisions.c.contract_id == contracts.c.id)
            & (revisions.c.number == contracts.c.current_revision),
        )
    ).all()
    for contract_id, terms in rows:
        terms = terms or {}
        auto = bool(terms.get("auto_renewal"))
        notice = terms.get("renewal_notice_days")
        if not auto and notice is None:
            continue
        conn.execute(
            sa.update(contracts)
            .where(contracts.c.id == contract_id)
            .values(auto_renewal=auto, renewal_notice_days=notice)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint("kind", sa.text(_OLD_KINDS))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tasks_amendment_id_amendments"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tasks_amendment_id"))
        batch_op.drop_column("amendment_id")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index("ix_contracts_active_end")
        batch_op.drop_constraint(batch_op.f("ck_contracts_status"), type_="check")
        batch_op.create_check_constraint("status", sa.text(_OLD_STATUSES))
        batch_op.drop_constraint(batch_op.f("fk_contracts_renews_id_contracts"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_contracts_renews_id"), type_="unique")
        batch_op.drop_column("terminated_on")
        batch_op.drop_column("renews_id")
        batch_op.drop_column("renewal_notice_days")
        batch_op.drop_column("auto_renewal")
    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.drop_index("uq_amendments_one_open")
    op.drop_table("amendments")
