"""`nightly-rescore`: re-evaluate every active contract as of today, in a few coarse chunks.

Overdue-obligation flags change with the calendar, so scores go stale overnight. The rules
service (`engine.services.rescore`) does the work; this flow splits the active contracts into
at most `MAX_CHUNKS` chunks (one Prefect task each: a handful of task runs, never one per
contract) and runs them one after another, so a large portfolio never holds several risk
evaluators or database write locks at once. A failed chunk is retried on its own.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from prefect import flow, get_run_logger, task

from flows.runtime import open_runtime

MAX_CHUNKS = 8


@task(name="list-active-contracts", retries=2, retry_delay_seconds=30)
def list_contracts_task() -> list[int]:
    from engine.services.rescore import active_contract_ids

    with open_runtime() as rt:
        return active_contract_ids(rt)


@task(name="rescore-chunk", retries=2, retry_delay_seconds=60)
def rescore_chunk_task(contract_ids: list[int], as_of: dt.date) -> dict[str, Any]:
    from engine.services.rescore import rescore_chunk

    with open_runtime() as rt:
        result = rescore_chunk(rt, contract_ids, as_of)
    get_run_logger().info(
        "re-scored %d contract(s) (ids %d..%d): %d changed",
        result["scored"],
        contract_ids[0],
        contract_ids[-1],
        result["changed"],
    )
    return result


def chunk_size_for(total: int, chunk_size: int | None = None) -> int:
    """At most `MAX_CHUNKS` chunks, and never smaller than the service's own chunk size."""
    from engine.services.rescore import CHUNK_SIZE

    if chunk_size:
        return chunk_size
    return max(CHUNK_SIZE, math.ceil(total / MAX_CHUNKS))


@flow(name="nightly-rescore")
def nightly_rescore(as_of: dt.date | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Re-score active contracts as of `as_of` (default: today, UTC)."""
    from engine.services.rescore import chunks

    day = as_of or dt.datetime.now(dt.UTC).date()
    ids = list_contracts_task()
    parts = chunks(ids, chunk_size_for(len(ids), chunk_size)) if ids else []
    totals: dict[str, Any] = {
        "as_of": day.isoformat(),
        "chunks": len(parts),
        "scored": 0,
        "changed": 0,
        "failed": [],
    }
    for part in parts:
        result = rescore_chunk_task(part, day)
        totals["scored"] += result["scored"]
        totals["changed"] += result["changed"]
        totals["failed"] += result.get("failed", [])
    get_run_logger().info("nightly re-score done: %s", totals)
    return totals
