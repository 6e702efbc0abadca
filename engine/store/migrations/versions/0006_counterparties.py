"""counterparty register: counterparties, their change history, contracts linked to them

Existing contracts are linked by normalised counterparty name (case and spaces ignored);
one record is created per name, as if the contracts had been submitted in order: the
name as first written and the first contract's rating.

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None

APPEND_ONLY = "counterparty_changes is append-only"
OLD_KINDS = "kind IN ('obligation_alert', 'task_escalation', 'contract_expiry', 'renewal_notice')"
NEW_KINDS = (
    "kind IN ('obligation_alert', 'task_escalation', 'contract_expiry', 'renewal_notice', "
    "'risk_warning')"
)
RATINGS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")


def _name_key(name: str) -> str:
    """`engine.domain.counterparty.normalise_name`, frozen here as of this revision."""
    return " ".join(name.split()).casefold()


def upgrade() -> None:
    op.create_table(
        "counterparties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=18), nullable=True),
        sa.Column("rating", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=10), server_default="active", nullable=False),
        sa.Column("credit_limit", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'watch', 'blocked')", name=op.f("ck_counterparties_status")
        ),
        sa.CheckConstraint(
            "rating IS NULL OR rating IN ('AAA', 'AA', 'A', 'BBB', 'BB', 'B', 'CCC', 'CC', 'C', 'D')",
            name=op.f("ck_counterparties_rating"),
        ),
        sa.CheckConstraint(
            "credit_limit IS NULL OR credit_limit >= 0",
            name=op.f("ck_counterparties_credit_limit"),
        ),
        sa.CheckConstraint(
            "length(name_key) > 0", name=op.f("ck_counterparties_name_key_not_empty")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counterparties")),
        sa.UniqueConstraint("code", name=op.f("uq_counterparties_code")),
        sa.UniqueConstraint("name_key", name=op.f("uq_counterparties_name_key")),
    )
    op.create_table(
        "counterparty_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("from_value", sa.String(length=200), nullable=True),
        sa.Column("to_value", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_counterparty_changes_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["counterparties.id"],
            name=op.f("fk_counterparty_changes_counterparty_id_counterparties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counterparty_changes")),
    )
    op.create_index(
        "ix_counterparty_changes_counterparty",
        "counterparty_changes",
        ["counterparty_id", "id"],
        unique=False,
    )
    _append_only_changes()

    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with an inline REFERENCES; the batch copy-and-move would
        # drop `contracts`, which every other table references.
        op.execute(
            "ALTER TABLE contracts ADD COLUMN counterparty_id INTEGER "
            "CONSTRAINT fk_contracts_counterparty_id_counterparties "
            "REFERENCES counterparties (id)"
        )
    else:
        op.add_column("contracts", sa.Column("counterparty_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_contracts_counterparty_id_counterparties"),
            "contracts",
            "counterparties",
            ["counterparty_id"],
            ["id"],
        )
    op.create_index(
        "ix_contracts_counterparty_status",
        "contracts",
        ["counterparty_id", "status"],
        unique=False,
    )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_kind"), NEW_KINDS)

    _link_existing_contracts()


def _link_existing_contracts() -> None:
    """One register record per normalised name, every stored contract linked to it."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT c.id, c.counterparty_name, r.terms FROM contracts c "
            "LEFT JOIN contract_revisions r "
            "ON r.contract_id = c.id AND r.number = c.current_revision ORDER BY c.id"
        )
    ).all()
    now = bind.execute(sa.text("SELECT CURRENT_TIMESTAMP")).scalar()
    keys: dict[str, int] = {}
    links: list[dict[str, Any]] = []
    for contract_id, name, terms in rows:
        key = _name_key(name)
        if not key:
            continue
        if key not in keys:
            rating = _rating(terms)
            keys[key] = bind.execute(
                sa.text(
                    "INSERT INTO counterparties "
                    "(name, name_key, rating, status, created_at, updated_at) "
                    "VALUES (:name, :key, :rating, 'active', :now, :now) RETURNING id"
                ),
                {"name": " ".join(name.split()), "key": key, "rating": rating, "now": now},
            ).scalar_one()
        links.append({"cid": contract_id, "pid": keys[key]})
    if links:
        bind.execute(sa.text("UPDATE contracts SET counterparty_id = :pid WHERE id = :cid"), links)


def _rating(terms: Any) -> str | None:
    if isinstance(terms, str):
        try:
            terms = json.loads(terms)
        except ValueError:
            return None
    if not isinstance(terms, dict):
        return None
    party = terms.get("counterparty")
    rating = party.get("credit_rating") if isinstance(party, dict) else None
    return rating if rating in RATINGS else None


def _append_only_changes() -> None:
    """The register's history refuses UPDATE and DELETE in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION counterparty_changes_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER counterparty_changes_no_{verb.lower()} BEFORE {verb} "
                "ON counterparty_changes FOR EACH ROW "
                "EXECUTE FUNCTION counterparty_changes_append_only()"
            )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER counterparty_changes_no_{verb.lower()} BEFORE {verb} "
                f"ON counterparty_changes BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_kind"), OLD_KINDS)
    op.drop_index("ix_contracts_counterparty_status", table_name="contracts")
    if postgres:
        op.drop_constraint(
            op.f("fk_contracts_counterparty_id_counterparties"), "contracts", type_="foreignkey"
        )
    op.drop_column("contracts", "counterparty_id")
    for verb in ("update", "delete"):
        op.execute(
            f"DROP TRIGGER IF EXISTS counterparty_changes_no_{verb}"
            + (" ON counterparty_changes" if postgres else "")
        )
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS counterparty_changes_append_only()")
    op.drop_index("ix_counterparty_changes_counterparty", table_name="counterparty_changes")
    op.drop_table("counterparty_changes")
    op.drop_table("counterparties")
