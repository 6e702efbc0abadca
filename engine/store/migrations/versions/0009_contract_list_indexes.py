"""contract list indexes: its sorts, an owner's contracts, pg_trgm text search

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:00:00

Measured in bench/bench_contract_list.py (docs/benchmarks.md) at 1,000,000 contracts.
The trigram indexes are GIN (pg_trgm) on PostgreSQL where the extension can be installed
(it ships with PostgreSQL's contrib and is a trusted extension from 13 on); elsewhere, and
on SQLite, they are plain b-tree indexes of the same name, which serve the sorts by id,
title and counterparty (a search then reads the table, and still answers).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TRGM_COLUMNS = ("code", "title", "counterparty_name")


def _has_trgm() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    available = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    ).first()
    if available is None:
        return False
    bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    return True


def upgrade() -> None:
    op.create_index("ix_contracts_list_updated", "contracts", ["updated_at", "id"])
    op.create_index("ix_contracts_list_amount", "contracts", ["amount", "id"])
    op.create_index(
        "ix_contracts_list_owner_updated", "contracts", ["owner_id", "updated_at", "id"]
    )
    trgm = _has_trgm()
    for column in TRGM_COLUMNS:
        if trgm:
            op.create_index(
                f"ix_contracts_list_trgm_{column}",
                "contracts",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
        else:
            op.create_index(f"ix_contracts_list_trgm_{column}", "contracts", [column])


def downgrade() -> None:
    for column in TRGM_COLUMNS:
        op.drop_index(f"ix_contracts_list_trgm_{column}", table_name="contracts")
    op.drop_index("ix_contracts_list_owner_updated", table_name="contracts")
    op.drop_index("ix_contracts_list_amount", table_name="contracts")
    op.drop_index("ix_contracts_list_updated", table_name="contracts")
