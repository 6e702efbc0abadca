"""withdrawn contracts, cancelled outbox rows, users' display names

A contract can be withdrawn before it is signed (status `withdrawn`); the alerts it had
queued are cancelled (outbox status `cancelled`, kept for the record, never sent); users
get a display name (e.g. 张伟) beside the login name. Existing rows keep their values:
no contract is withdrawn and no outbox row cancelled by the upgrade, and a user without a
display name is shown by their login name.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CONTRACT_STATUSES_OLD = "status IN ('active', 'closed')"
CONTRACT_STATUSES_NEW = "status IN ('active', 'closed', 'withdrawn')"
OUTBOX_STATUSES_OLD = "status IN ('pending', 'sent', 'failed')"
OUTBOX_STATUSES_NEW = "status IN ('pending', 'sent', 'failed', 'cancelled')"


def _replace_check(table: str, name: str, condition: str) -> None:
    with op.batch_alter_table(table) as batch_op:
        batch_op.drop_constraint(op.f(name), type_="check")
        batch_op.create_check_constraint(op.f(name), condition)


def upgrade() -> None:
    _replace_check("contracts", "ck_contracts_status", CONTRACT_STATUSES_NEW)
    _replace_check("outbox", "ck_outbox_status", OUTBOX_STATUSES_NEW)
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE contracts SET status = 'closed' WHERE status = 'withdrawn'")
    op.execute("UPDATE outbox SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("display_name")
    _replace_check("outbox", "ck_outbox_status", OUTBOX_STATUSES_OLD)
    _replace_check("contracts", "ck_contracts_status", CONTRACT_STATUSES_OLD)
