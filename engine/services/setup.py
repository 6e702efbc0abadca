"""`contractflow init`: create or upgrade the schema, seed roles, load definitions."""

from __future__ import annotations

from typing import Any

from engine.services.runtime import Runtime
from engine.services.users import seed_roles
from engine.store import migrate


def initialise(rt: Runtime) -> dict[str, Any]:
    """Safe to run again and again: migrations are idempotent and definitions are versioned.

    Definitions are checked before anything is written, so a broken workflow or rule set is
    refused and the one in use stays.
    """
    from engine.services.rules import (
        check_shipped_rules,
        examples_against_config,
        load_shipped_rules,
    )

    rules = check_shipped_rules(rt)  # a broken rules/ is refused before anything is written
    migrate.upgrade(rt.db, audit_key=rt.audit_key.get)
    with rt.db.transaction() as session:
        seed_roles(session)
    result: dict[str, Any] = {"database": rt.db.redacted_url(), "workflows": [], "rules": 0}
    from engine.services.workflows import load_shipped_workflows

    result["workflows"] = load_shipped_workflows(rt)["workflows"]
    result["rules"] = load_shipped_rules(rt, rules)["rules"]
    # Not a refusal: the risk officer tuned config/risk.yaml; say what the examples no
    # longer show so the tuning is a known decision (docs/rules.md).
    notes = examples_against_config(rt, rules)
    if notes:
        result["rule_notes"] = notes
    # Workflow and rule loading join here (engine.services.workflows / engine.services.rules).
    return result
