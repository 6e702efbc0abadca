"""Admin pages: users and roles, workflow versions, the alert outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from engine.domain.people import ROLE_DESCRIPTIONS
from engine.errors import InvalidInput
from engine.services import access
from engine.services.users import add_user, list_users
from engine.web.deps import CsrfForm, PageUser, RuntimeDep
from engine.web.templating import flash, render

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
) -> Response:
    access.require_admin(user)
    try:
        saved = add_user(rt, username, roles, email=email or None, password=password or None)
    except InvalidInput as exc:
        form = {"username": username, "email": email, "roles": roles}
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
