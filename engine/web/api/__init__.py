"""The JSON API under /api (documented at /docs)."""

from __future__ import annotations

from fastapi import APIRouter

from engine.web.api import admin, contracts, counterparties, me, rules, tasks

router = APIRouter()

for module in (me, contracts, tasks, rules, admin, counterparties):
    router.include_router(module.router)
