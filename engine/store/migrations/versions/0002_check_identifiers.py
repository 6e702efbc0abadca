"""check stored identifiers and one-line fields against the contract format's rules

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 13:00:00

Contract, obligation and guarantee ids now match `letters, digits, -, _, #` and titles and
names refuse control characters (docs/contract-format.md). Rows stored before that rule
are not changed (an id is referenced by audit events, URLs and e-mails already sent);
this revision lists every offender in one warning so an admin can revise or retire them.
It never fails the upgrade and changes no schema, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# Written out here (a migration must not change when the application code does).
CONTRACT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_#-]{0,63}$")
ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_#-]{0,31}$")
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def offenders(bind: sa.engine.Connection) -> list[str]:
    """One line per stored value the contract format would now refuse."""
    out: list[str] = []
    rows = bind.execute(sa.text("SELECT id, code, title, counterparty_name FROM contracts"))
    codes: dict[int, str] = {}
    for cid, code, title, counterparty in rows:
        codes[cid] = code
        if not CONTRACT_ID.match(code or ""):
            out.append(f"contract {code!r}: id does not match letters, digits, -, _, #")
        for field, value in (("title", title), ("counterparty.name", counterparty)):
            if value and CONTROL.search(value):
                out.append(f"contract {code!r}: {field} contains a control character")
    for table, column, what in (
        ("obligations", "oid", "obligation"),
        ("guarantees", "gid", "guarantee"),
    ):
        query = sa.text(f"SELECT contract_id, {column} FROM {table}")  # noqa: S608 - fixed names
        for cid, item in bind.execute(query):
            if not ITEM_ID.match(item or ""):
                out.append(
                    f"contract {codes.get(cid, cid)!r}: {what} id {item!r} does not match "
                    "letters, digits, -, _, #"
                )
    return out


def upgrade() -> None:
    try:
        found = offenders(op.get_bind())
    except sa.exc.SQLAlchemyError as exc:  # a report only: never fail the upgrade
        log.warning("0002: could not check stored identifiers (%s)", exc)
        return
    if found:
        log.warning(
            "0002: %d stored value(s) do not follow the contract format's id / one-line "
            "rules (kept as they are; revise or retire them):\n  %s",
            len(found),
            "\n  ".join(found),
        )


def downgrade() -> None:
    pass  # nothing was changed
