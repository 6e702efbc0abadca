"""users.team: owners grouped by team in the fulfilment scorecards

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing users belong to no team until an admin says so (`users set NAME --team T`).
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_team"), ["team"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_team"))
        batch_op.drop_column("team")
