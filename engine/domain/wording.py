"""Words for the codes people would otherwise read (SPEC: "words, not codes").

Stage ids (`legal_review`), decisions (`changes_requested`), alert levels
(`overdue_high`) and field paths (`guarantees[G-1].amount`) are the stable vocabulary of
files, the JSON API and `--format json`; tables, pages and emails show these words
instead. One place, so the CLI, the web app and the emails say the same thing.
"""

from __future__ import annotations

import re

#: Codes whose words are not just the code with spaces.
SPECIAL = {
    "changes_requested": "changes requested",
    "request_changes": "request changes",
    "due_soon": "due soon",
    "overdue_high": "long overdue",
    "overdue_critical": "critically overdue",
    "sla": "past its deadline",
    "fulfil_obligation": "fulfilment recorded",
    "waive_obligation": "obligation waived",
    "revert_obligation": "fulfilment reverted",
    "obligation_alert": "obligation alert",
    "task_escalation": "task escalation",
    "contract_admin": "contract admin",
    "counterparty": "the counterparty",
    "us": "we",
}

_ITEM = re.compile(r"^(guarantees|obligations|installments)\[([^\]]+)\]$")
_SINGULAR = {"guarantees": "guarantee", "obligations": "obligation", "installments": "installment"}


def words(code: str | None) -> str:
    """`legal_review` -> `legal review`; known codes get their own words."""
    if not code:
        return ""
    return SPECIAL.get(code, code.replace("_", " "))


def field_words(path: str) -> str:
    """`guarantees[G-1].amount` -> `guarantee G-1: amount`;
    `payment_terms.installments[2].due` -> `payment terms, installment 2: due`."""
    parts = []
    for part in path.split("."):
        item = _ITEM.match(part)
        if item:
            kind, key = item.groups()
            parts.append(f"{_SINGULAR[kind]} {key}")
        else:
            parts.append(part.replace("_", " "))
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + ": " + parts[-1]
