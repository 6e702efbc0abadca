"""The manager's page: the portfolio as charts with their numbers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from engine.services import access
from engine.services.dashboard import FLAG_SEVERITIES, dashboard
from engine.web.deps import PageUser, RuntimeDep
from engine.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/dashboard")
def dashboard_page(request: Request, rt: RuntimeDep, user: PageUser) -> Response:
    access.require_dashboard(user)
    d = dashboard(rt)
    context = {
        "d": d,
        "stage_rows": [(c.label.replace("_", " "), c.value, "stage") for c in d.contracts_by_stage],
        "flag_rows": [
            (f.category.replace("_", " "), [(s, f.by_severity.get(s, 0)) for s in FLAG_SEVERITIES])
            for f in d.flags_by_category
        ],
        "week_rows": [
            (
                ("overdue" if w.overdue else f"week of {w.label}"),
                w.value,
                "overdue" if w.overdue else "due",
            )
            for w in d.obligations_by_week
        ],
        "alert_rows": [(c.label, c.value, c.label) for c in d.alerts],
    }
    return render(request, "dashboard.html", context)
