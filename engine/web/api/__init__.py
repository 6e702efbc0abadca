"""The JSON API under /api (documented at /docs).

Conventions the OpenAPI document states and tests/integration/web/test_api_schema.py holds
it to: every error is `{"error": first line, "problems": [every line]}` (`ErrorBody`),
declared for 400, 401, 403, 404, 409, 413, 422 and 503 on every operation (FastAPI's own
`{"detail": [...]}` 422 schema never appears: engine.web.errors answers validation errors
in our shape); operationIds are readable verbs (`submit_contract`, `act_on_task`), not
FastAPI's generated `submit_api_contracts_post`; a 201 carries `Location`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel

from engine.web.api import (
    admin,
    contracts,
    counterparties,
    delegations,
    me,
    rules,
    scorecards,
    tasks,
)


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: str
    problems: list[str]


ERROR_STATUSES = {
    400: "Bad request",
    401: "Not signed in (missing, unknown or revoked token)",
    403: "Not allowed for this user",
    404: "Not found",
    409: "Conflict: someone acted first, or the task is closed",
    413: "Upload too large",
    422: "Invalid input: one line per problem",
    503: "The database is not available; try again",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in ERROR_STATUSES.items()
}

#: Readable operationIds for the handlers whose function names are too generic alone.
OPERATION_IDS = {
    "me": "get_me",
    "submit": "submit_contract",
    "submit_upload": "submit_contract_upload",
    "get_document": "get_contract_document",
    "get_report": "get_contract_report",
    "fulfil": "fulfil_obligation",
    "revise": "revise_contract",
    "tasks": "list_tasks",
    "inbox_page": "get_inbox",
    "act": "act_on_task",
    "reassign": "reassign_task",
    "waive": "waive_obligation",
    "get_history": "get_contract_history",
    "bulk": "bulk_approve_tasks",
    "check": "check_rules",
    "check_upload": "check_rules_upload",
    "alerts": "list_alerts",
    "retry": "retry_alert",
    "run": "run_alerts",
    "users": "list_users",
    "workflows": "list_workflows",
}


def operation_id(route: APIRoute) -> str:
    return OPERATION_IDS.get(route.name, route.name)


router = APIRouter(responses=ERROR_RESPONSES, generate_unique_id_function=operation_id)

for module in (me, contracts, tasks, delegations, rules, admin, counterparties, scorecards):
    router.include_router(module.router)
