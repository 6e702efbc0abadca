"""`GET /healthz` and `GET /readyz` for load balancers and orchestrators, without sign-in.

`/healthz` is liveness: 200 whenever the process can answer, touching nothing else (a
database outage must not get healthy web processes restarted). `/readyz` is readiness
(engine.services.health): 200 `{"status": "ready", "checks": {...}}`, else 503 with the
API's error body `{"error", "problems"}` plus `checks`. Neither says more than a status
page would: no versions, no settings, no paths.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from engine.services.health import readiness
from engine.web.deps import RuntimeDep

router = APIRouter(tags=["operations"])

READY_EXAMPLE = {
    "status": "ready",
    "checks": {
        "database": "ok",
        "schema": {"current": "0001", "expected": "0001"},
        "scheduler": "off",
    },
}


@router.get(
    "/healthz",
    operation_id="healthz",
    summary="Liveness: the process answers",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="Readiness: database reachable, schema current, scheduler alive when on",
    responses={
        200: {"content": {"application/json": {"example": READY_EXAMPLE}}},
        503: {"description": "Not ready: `problems` says why"},
    },
)
async def readyz(rt: RuntimeDep) -> Any:
    result = await run_in_threadpool(readiness, rt)
    if result.ready:
        return {"status": "ready", "checks": result.checks}
    return JSONResponse(
        {"error": result.problems[0], "problems": result.problems, "checks": result.checks},
        status_code=503,
    )
