"""task notifications: users.notify, action link uses, new outbox kinds

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_KINDS = (
    "kind IN ('obligation_alert', 'task_escalation', 'contract_expiry', 'renewal_notice', "
    "'risk_warning')"
)
NEW_KINDS = (
    "kind IN ('obligation_alert', 'task_escalation', 'contract_expiry', 'renewal_notice', "
    "'risk_warning', 'task_notice', 'revise_notice', 'task_digest')"
)


def upgrade() -> None:
    # Existing users keep getting email as before: `immediate`.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify", sa.String(length=10), server_default="immediate", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_users_notify"), "notify IN ('immediate', 'digest', 'off')"
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_kind"), NEW_KINDS)
    op.create_table(
        "action_link_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_action_link_uses_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_action_link_uses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_link_uses")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_action_link_uses_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("action_link_uses")
    op.execute("DELETE FROM outbox WHERE kind IN ('task_notice', 'revise_notice', 'task_digest')")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_kind"), OLD_KINDS)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_notify"), type_="check")
        batch_op.drop_column("notify")
