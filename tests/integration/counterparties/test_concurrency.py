"""Contracts for one counterparty submitted at the same moment from separate processes on
PostgreSQL: the counterparty row lock makes each score see the others that committed first,
so no two of them slip under the credit limit together."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import select

from engine.services import lifecycle
from engine.services.counterparties import add_counterparty
from engine.services.runtime import Runtime
from engine.settings import Settings
from engine.store import models as m
from tests.integration.counterparties.support import HUADONG, sale, use_backend
from tests.integration.workflow.support import prepare

RACERS = 6


def submit_at(url: str, n: int, start_at: float) -> str:
    rt = Runtime(Settings(database_url=url))
    use_backend(rt, "python")
    _ = rt.evaluator
    time.sleep(max(0.0, start_at - time.time()))
    try:
        view = lifecycle.submit_contract(rt, sale(f"SC-RACE-{n}", 600000), "alice")
        return str(view.max_severity)
    finally:
        rt.close()


@pytest.mark.slow
def test_racing_submits_for_one_counterparty_cannot_all_slip_under_its_limit(rt: Runtime) -> None:
    if rt.db.dialect != "postgresql":
        pytest.skip("SQLite serialises writers; the race is a PostgreSQL property")
    prepare(rt)
    # Room for exactly one 600,000 contract: every other one must be flagged.
    add_counterparty(rt, "rita", HUADONG, credit_limit="1000000")
    start_at = time.time() + 4.0
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(RACERS, mp_context=ctx) as pool:
        futures = [
            pool.submit(submit_at, rt.settings.database_url, n, start_at) for n in range(RACERS)
        ]
        [f.result(timeout=120) for f in futures]
    with rt.db.reads() as s:
        flagged = set(
            s.scalars(
                select(m.RiskFlag.contract_id).where(m.RiskFlag.rule == "counterparty.credit_limit")
            )
        )
        contracts = s.scalars(select(m.Contract.id)).all()
    assert len(contracts) == RACERS
    assert len(flagged) == RACERS - 1
