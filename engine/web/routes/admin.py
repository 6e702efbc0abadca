"""Admin pages: users and roles (with deactivation), workflow versions, the admin log,
the alert outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from engine.domain.people import ROLE_DESCRIPTIONS
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.services import access
from engine.services.admin_log import list_events
from engine.services.alerts import alert_counts, list_alerts, retry_alert
from engine.services.health import scheduler_summary
from engine.services.users import add_user, list_users, set_active
from engine.services.workflows import list_workflows
from engine.web.deps import CsrfForm, PageUser, RuntimeDep
from engine.web.templating import flash, flash_refusal, render

router = APIRouter(include_in_schema=False)


@router.get("/admin")
def admin_home(user: PageUser) -> Response:
    target = "/admin/users" if access.is_admin(user) else "/admin/outbox"
    return RedirectResponse(target, status_code=303)


@router.get("/admin/users")
def users_page(request: Request, rt: RuntimeDep, user: PageUser) -> Response:
    access.require_admin(user)
    return render(
        request,
        "admin_users.html",
        {"users": list_users(rt), "roles": ROLE_DESCRIPTIONS, "problems": [], "form": {}},
    )


@router.post("/admin/users", dependencies=[CsrfForm])
def save_user(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    username: Annotated[str, Form(max_length=64)],
    roles: Annotated[list[str], Form()],
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    team: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    access.require_admin(user)
    try:
        saved = add_user(
            rt,
            username,
            roles,
            email=email or None,
            password=password or None,
            team=team or None,  # left empty: the user's team stays as it was
            by=user,
        )
    except InvalidInput as exc:
        form = {"username": username, "email": email, "roles": roles, "team": team}
        return render(
            request,
            "admin_users.html",
            {
                "users": list_users(rt),
                "roles": ROLE_DESCRIPTIONS,
                "problems": exc.lines(),
                "form": form,
            },
            status_code=422,
        )
    flash(request, f"Saved {saved.username}: {', '.join(saved.roles)}")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/{change}", dependencies=[CsrfForm])
def activate_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    username: Annotated[str, Path(max_length=64)],
    change: Annotated[str, Path(pattern="^(deactivate|reactivate)$")],
) -> Response:
    access.require_admin(user)
    try:
        done = set_active(rt, username, change == "reactivate", by=user)
    except (Conflict, Forbidden, NotFound) as exc:
        flash(request, "Not done: " + " ".join(exc.lines()))
    else:
        if done.active:
            flash(request, f"{username} is active again; they sign in with their password.")
        else:
            flash(
                request,
                f"{username} is deactivated: {done.sessions_ended} session(s) ended, "
                f"{done.tokens_revoked} token(s) revoked, {len(done.tasks_unassigned)} "
                "task(s) back with their role.",
            )
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/log")
def admin_log_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    access.require_admin(user)
    return render(request, "admin_log.html", {"events": list_events(rt, 200, offset)})


@router.get("/admin/workflows")
def workflows_page(request: Request, rt: RuntimeDep, user: PageUser) -> Response:
    access.require_admin(user)
    return render(request, "admin_workflows.html", {"workflows": list_workflows(rt)})


@router.get("/admin/outbox")
def outbox_page(
    request: Request,
    rt: RuntimeDep,
    user: PageUser,
    status: Annotated[str, Query(pattern="^(|pending|sent|failed)$")] = "",
) -> Response:
    access.require_outbox(user)
    return render(
        request,
        "admin_outbox.html",
        {
            "alerts": list_alerts(rt, status=status or None, limit=200),
            "counts": alert_counts(rt),
            "status": status,
            "scheduler": scheduler_summary(rt),
        },
    )


@router.post("/admin/outbox/{alert_id}/retry", dependencies=[CsrfForm])
def retry_page(request: Request, rt: RuntimeDep, user: PageUser, alert_id: int) -> Response:
    access.require_admin(user)
    try:
        retry_alert(rt, alert_id)
    except (Conflict, NotFound) as exc:
        flash_refusal(request, exc.lines())
    else:
        flash(request, f"Alert {alert_id} queued again; the next alert run sends it.")
    return RedirectResponse("/admin/outbox", status_code=303)
