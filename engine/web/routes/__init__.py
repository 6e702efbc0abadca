"""Server-rendered pages (not in the OpenAPI schema: that documents the JSON API)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from engine.web.routes import (
    admin,
    auth,
    contracts,
    counterparties,
    dashboard,
    email_actions,
    inbox,
    people,
    scorecards,
    submit,
)

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=303)


# `submit` before `contracts`: /contracts/{code}/revise must win over /contracts/{code}.
for module in (
    auth,
    inbox,
    submit,
    contracts,
    counterparties,
    dashboard,
    scorecards,
    admin,
    email_actions,
    people,
):
    router.include_router(module.router)
