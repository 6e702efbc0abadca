"""server-side web sessions, sign-in throttling, the admin audit log

Revision ID: 0003
Revises: 0001

Three new tables, no change to existing rows: `web_sessions` (a browser is signed in only
while its row is live, so sessions can be revoked), `sign_in_throttle` (failed sign-ins
per account and client address, shared by every worker) and `admin_events` (append-only,
like `audit_events`). Cookies issued before this revision carry no session id and so no
longer sign anyone in: everyone signs in once more after the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "admin_events is append-only"


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_sign_in_throttle_failures_not_negative")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )

    op.create_table(
        "admin_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_admin_events_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_events")),
    )
    with op.batch_alter_table("admin_events", schema=None) as batch_op:
        batch_op.create_index("ix_admin_events_at", ["at"], unique=False)
    _append_only_admin_events()


def _append_only_admin_events() -> None:
    """The admin log refuses UPDATE and DELETE in the database itself, not just in code."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION admin_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER admin_events_no_{verb.lower()} BEFORE {verb} ON admin_events "
                "FOR EACH ROW EXECUTE FUNCTION admin_events_append_only()"
            )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER admin_events_no_{verb.lower()} BEFORE {verb} ON admin_events "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for verb in ("update", "delete"):
        op.execute(
            f"DROP TRIGGER IF EXISTS admin_events_no_{verb}"
            + (" ON admin_events" if postgres else "")
        )
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS admin_events_append_only()")
    with op.batch_alter_table("admin_events", schema=None) as batch_op:
        batch_op.drop_index("ix_admin_events_at")
    op.drop_table("admin_events")
    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
    op.drop_table("web_sessions")
