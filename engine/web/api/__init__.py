"""The JSON API under /api (documented at /docs)."""

from __future__ import annotations

from fastapi import APIRouter

from engine.web.api import me

router = APIRouter()

for module in (me,):
    router.include_router(module.router)
