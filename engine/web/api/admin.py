"""The portfolio dashboard, alerts outbox, users and workflows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from engine.domain.people import UserView
from engine.domain.views import WorkflowView
from engine.services import access
from engine.services.admin_log import AdminEventView, list_events
from engine.services.alerts import list_alerts, retry_alert, run_alerts
from engine.services.dashboard import Dashboard, dashboard
from engine.services.users import list_users
from engine.services.workflows import list_workflows
from engine.web.api.pagination import Offset, page
from engine.web.api.params import AlertId
from engine.web.deps import ApiUser, RuntimeDep

router = APIRouter()


class RunAlertsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: dt.date | None = None
    force: bool = False  # allow an as_of in the future (its alerts go out now)


@router.get("/dashboard", response_model=Dashboard, tags=["portfolio"])
def get_dashboard(rt: RuntimeDep, user: ApiUser) -> Dashboard:
    """Contracts by stage, flags by category and severity, obligations by week, alerts."""
    access.require_dashboard(user)
    return dashboard(rt)


@router.get("/alerts", tags=["alerts"])
def alerts(
    rt: RuntimeDep,
    user: ApiUser,
    response: Response,
    status: Annotated[str | None, Query(pattern="^(pending|sent|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The alert outbox, newest first, one page at a time (`X-Next-Offset`)."""
    access.require_outbox(user)
    found = list_alerts(rt, status=status, limit=limit + 1, offset=offset)
    return page(response, found, limit, offset)


@router.post("/alerts/{alert_id}/retry", tags=["alerts"])
def retry(rt: RuntimeDep, user: ApiUser, alert_id: AlertId) -> dict[str, Any]:
    """Queue a failed alert again (409 when it is not failed)."""
    access.require_admin(user)
    return retry_alert(rt, alert_id)


@router.post("/alerts/run", tags=["alerts"])
def run(rt: RuntimeDep, user: ApiUser, body: RunAlertsRequest | None = None) -> dict[str, int]:
    """Run the overdue-obligation alert job now (as `contractflow alerts run`)."""
    access.require_admin(user)
    request = body or RunAlertsRequest()
    return run_alerts(rt, request.as_of, force=request.force)


@router.get("/users", response_model=list[UserView], tags=["admin"])
def users(rt: RuntimeDep, user: ApiUser) -> list[UserView]:
    """Every user and their roles."""
    access.require_admin(user)
    return list_users(rt)


@router.get("/workflows", response_model=list[WorkflowView], tags=["admin"])
def workflows(rt: RuntimeDep, user: ApiUser) -> list[WorkflowView]:
    """Every stored workflow version and how many contracts run on it (admins only)."""
    access.require_admin(user)
    return list_workflows(rt)


@router.get("/admin/log", response_model=list[AdminEventView], tags=["admin"])
def admin_events(
    rt: RuntimeDep,
    user: ApiUser,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[AdminEventView]:
    """The admin audit log (users, roles, passwords, tokens, workflows), newest first, one
    page at a time (`X-Next-Offset`)."""
    access.require_admin(user)
    return page(response, list_events(rt, limit=limit + 1, offset=offset), limit, offset)
