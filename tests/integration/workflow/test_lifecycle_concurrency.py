"""Eight processes race to approve the same 200 tasks on PostgreSQL: exactly one wins each
task, every other attempt is a clean conflict, and the audit trail stays consistent."""

from __future__ import annotations

import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.definitions.contracts import load_contract_file
from engine.errors import Conflict
from engine.services import audit, lifecycle
from engine.services.runtime import Runtime
from engine.services.users import add_user
from engine.settings import Settings
from engine.store import models as m
from tests.integration.workflow.support import FixedEvaluator
from tests.support import EXAMPLES

WORKERS = 8
TASKS = 200


def race(
    url: str, data_dir: Path, worker: int, task_ids: list[int], start_at: float
) -> tuple[list[int], int]:
    """One reviewer's process: try to approve every task, in its own random order (with
    the deployment's data folder, where the audit key is)."""
    rt = Runtime(Settings(database_url=url, data_dir=data_dir))
    rt.set_evaluator(FixedEvaluator())
    order = list(task_ids)
    random.Random(worker).shuffle(order)
    won: list[int] = []
    conflicts = 0
    time.sleep(max(0.0, start_at - time.time()))
    try:
        for task_id in order:
            try:
                lifecycle.decide(rt, task_id, "approve", f"reviewer{worker}")
                won.append(task_id)
            except Conflict:
                conflicts += 1
    finally:
        rt.close()
    return won, conflicts


@pytest.mark.slow
def test_exactly_one_reviewer_wins_each_task(wrt: Runtime) -> None:
    if wrt.db.dialect != "postgresql":
        pytest.skip("SQLite serialises writers; the race is a PostgreSQL property")
    for i in range(WORKERS):
        add_user(wrt, f"reviewer{i}", ["legal"])
    base = load_contract_file(EXAMPLES / "SC-2026-0042.yaml")
    task_ids = []
    for i in range(TASKS):
        contract = base.model_copy(update={"id": f"RACE-{i:03d}", "amount": Decimal(500_000)})
        view = lifecycle.submit_contract(wrt, contract, "alice")
        task_ids.extend(t.id for t in view.tasks if t.status == "open")
    assert len(task_ids) == TASKS

    start_at = time.time() + 3.0
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=ctx) as pool:
        futures = [
            pool.submit(
                race, wrt.settings.database_url, wrt.settings.data_dir, w, task_ids, start_at
            )
            for w in range(WORKERS)
        ]
        results = [f.result(timeout=120) for f in futures]

    wins = [t for won, _ in results for t in won]
    assert sorted(wins) == sorted(task_ids)  # each task won exactly once
    assert sum(c for _, c in results) == WORKERS * TASKS - TASKS
    with wrt.db.sessions() as session:
        approvals = session.scalar(select(func.count()).select_from(m.Approval))
        per_contract = set(
            session.scalars(
                select(func.count()).select_from(m.AuditEvent).group_by(m.AuditEvent.contract_id)
            )
        )
        stages = set(session.scalars(select(m.Contract.stage)))
    assert approvals == TASKS
    assert per_contract == {2}  # submit + the one approval
    assert stages == {"signing"}
    assert audit.verify(wrt).verified
