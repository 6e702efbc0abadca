"""Batch re-scoring: every active contract as of a date, in chunks, writing only changes.

A contract's flags are rewritten (a new current evaluation; the old one stays as history)
only when what fired changed — the set of (rule, severity, subject) — or the rule set or
its parameters changed. The nightly Prefect flow calls `rescore_chunk` chunk by chunk;
`contractflow rules rescore` calls `rescore` with a progress bar.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Text, and_, cast, select

from engine.domain.contract import Contract
from engine.domain.risk import RiskReport
from engine.errors import InvalidInput
from engine.services.runtime import Runtime
from engine.services.scoring import store_reports
from engine.store import models as m

log = logging.getLogger(__name__)

CHUNK_SIZE = 2000
Fingerprint = tuple[str, frozenset[tuple[str, str, str]]]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic GC while a chunk is parsed and scored: the collector kept rescanning the
    chunk's thousands of fresh objects and took over half the time (measured). A chunk
    is bounded, and what it leaves is collected when the collector runs again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def active_contract_ids(rt: Runtime) -> list[int]:
    with rt.db.transaction() as session:
        return list(
            session.scalars(
                select(m.Contract.id).where(m.Contract.status == "active").order_by(m.Contract.id)
            )
        )


def chunks(ids: Sequence[int], size: int = CHUNK_SIZE) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def _fingerprint(report: RiskReport) -> Fingerprint:
    return (
        report.ruleset_checksum,
        frozenset((f.rule, f.severity.value, f.subject or "") for f in report.flags),
    )


#: One stored contract ready to score: (contract id, revision number, its terms).
Loaded = tuple[int, int, Contract]


def _terms_query(ids: Sequence[int]) -> Any:
    return (
        select(
            m.Contract.id,
            m.Contract.current_revision,
            # The JSON text itself: pydantic parses it faster than a dict from json.loads.
            cast(m.ContractRevision.terms, Text),
        )
        .join(
            m.ContractRevision,
            and_(
                m.ContractRevision.contract_id == m.Contract.id,
                m.ContractRevision.number == m.Contract.current_revision,
            ),
        )
        .where(m.Contract.id.in_(list(ids)))
    )


def _parse(rows: Sequence[Any]) -> list[Loaded]:
    return [
        (cid, revision, Contract.model_validate_json(terms, context={"stored": True}))
        for cid, revision, terms in rows
    ]


def load_chunk(rt: Runtime, ids: Sequence[int]) -> list[Loaded]:
    """Read and parse a chunk's current terms in a read-only transaction of its own (the
    prefetch `rescore` overlaps with scoring the previous chunk)."""
    with rt.db.transaction() as session:
        rows = session.execute(_terms_query(ids)).all()
    return _parse(rows)


def rescore_chunk(
    rt: Runtime, ids: Sequence[int], as_of: dt.date, loaded: list[Loaded] | None = None
) -> dict[str, Any]:
    """Score these contracts (their current revisions) and store what changed.

    `loaded`: the chunk's terms read ahead (`load_chunk`); a contract whose current
    revision is no longer the one read ahead is read again inside this transaction, so
    what is scored and stored is always the revision current when the flags are written.
    """
    if not ids:
        return {"scored": 0, "changed": 0, "failed": []}
    # The whole chunk runs with the collector paused, and its objects are gone (freed by
    # reference counting when `_rescore_chunk` returns) before it resumes: re-enabled in
    # the middle, it made a full pass over the chunk's parsed contracts (measured: 40 us
    # per contract, a fifth of the steady-state time).
    with _collector_paused():
        return _rescore_chunk(rt, ids, as_of, loaded)


def _rescore_chunk(
    rt: Runtime, ids: Sequence[int], as_of: dt.date, loaded: list[Loaded] | None
) -> dict[str, Any]:
    # Started before the transaction: building it reads the stored rule set, which on
    # SQLite would wait for the write lock this transaction holds.
    evaluator = rt.evaluator
    with rt.db.transaction() as session:
        if loaded is None:
            items = _parse(session.execute(_terms_query(ids)).all())
        else:
            ahead = {cid: (revision, contract) for cid, revision, contract in loaded}
            revisions = session.execute(
                select(m.Contract.id, m.Contract.current_revision).where(
                    m.Contract.id.in_(list(ids))
                )
            ).all()
            stale = [cid for cid, rev in revisions if ahead.get(cid, (None,))[0] != rev]
            again = {
                cid: (rev, c)
                for cid, rev, c in _parse(
                    session.execute(_terms_query(stale)).all() if stale else []
                )
            }
            items = []
            for cid, _rev in revisions:
                revision, contract = again[cid] if cid in again else ahead[cid]
                items.append((cid, revision, contract))
        current: dict[int, tuple[str, set[tuple[str, str, str]]]] = {}
        for cid, checksum in session.execute(
            select(m.RiskEvaluation.contract_id, m.RiskEvaluation.ruleset_checksum).where(
                m.RiskEvaluation.contract_id.in_(list(ids)), m.RiskEvaluation.current.is_(True)
            )
        ):
            current[cid] = (checksum, set())
        for cid, rule, severity, subject in session.execute(
            select(m.RiskFlag.contract_id, m.RiskFlag.rule, m.RiskFlag.severity, m.RiskFlag.subject)
            .join(m.RiskEvaluation, m.RiskFlag.evaluation_id == m.RiskEvaluation.id)
            .where(m.RiskEvaluation.contract_id.in_(list(ids)), m.RiskEvaluation.current.is_(True))
        ):
            current[cid][1].add((rule, severity, subject or ""))
        scored, failed = _evaluate_isolated(evaluator, items, as_of)
        changed = [
            (cid, revision, report)
            for cid, revision, report in scored
            if cid not in current
            or (current[cid][0], frozenset(current[cid][1])) != _fingerprint(report)
        ]
        store_reports(session, changed)
    return {"scored": len(scored), "changed": len(changed), "failed": failed}


def _evaluate_isolated(
    evaluator: Any, items: Sequence[Loaded], as_of: dt.date
) -> tuple[list[tuple[int, int, RiskReport]], list[str]]:
    """Score a chunk; if the engine fails on it, score its contracts one at a time so one
    contract the engine cannot evaluate is reported (`failed`: one line each) and keeps
    its stored flags, while the rest of the batch is scored as usual.

    A mistake in the request itself (`InvalidInput`: an as_of out of range) is the whole
    batch's and still raised."""
    try:
        reports = evaluator.evaluate([contract for _, _, contract in items], as_of)
    except InvalidInput:
        raise
    except Exception as exc:  # isolated below, contract by contract
        log.warning("rescore: the chunk failed (%s); scoring its contracts one by one", exc)
    else:
        return [
            (cid, revision, report)
            for (cid, revision, _), report in zip(items, reports, strict=True)
        ], []
    scored: list[tuple[int, int, RiskReport]] = []
    failed: list[str] = []
    for cid, revision, contract in items:
        try:
            [report] = evaluator.evaluate([contract], as_of)
        except InvalidInput:
            raise
        except Exception as exc:  # reported, never fatal to the batch
            log.error("rescore: contract %s could not be evaluated: %s", contract.id, exc)
            failed.append(f"{contract.id}: could not be evaluated ({exc})")
            continue
        scored.append((cid, revision, report))
    return scored, failed


def rescore(
    rt: Runtime,
    as_of: dt.date | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Re-score every active contract; `progress(done, total)` after each chunk."""
    day = as_of or rt.today()
    started = time.perf_counter()
    ids = active_contract_ids(rt)
    scored = changed = 0
    failed: list[str] = []
    parts = chunks(ids, chunk_size)
    # On PostgreSQL the next chunk is read and parsed in a helper thread while this one is
    # scored and written (its database waits and, with durable_rules, the workers' time
    # overlap with it). SQLite takes its write lock at BEGIN, so there it stays serial.
    ahead = rt.db.dialect == "postgresql" and len(parts) > 1
    # The collector stays paused for the whole run (not only per chunk): the reader
    # thread parses while a chunk is scored, and each chunk's objects are freed by
    # reference counting when it is done.
    with (
        _collector_paused(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="rescore-read") as reader,
    ):
        pending = reader.submit(load_chunk, rt, parts[0]) if ahead else None
        for k, chunk in enumerate(parts):
            loaded = pending.result() if pending is not None else None
            pending = None
            if ahead and k + 1 < len(parts):
                pending = reader.submit(load_chunk, rt, parts[k + 1])
            result = rescore_chunk(rt, chunk, day, loaded)
            del loaded
            scored += result["scored"]
            changed += result["changed"]
            failed += result.get("failed", [])
            if progress is not None:
                progress(scored, len(ids))
    return {
        "as_of": day.isoformat(),
        "contracts": scored,
        "changed": changed,
        "unchanged": scored - changed,
        "ruleset_checksum": rt.evaluator.checksum,
        "seconds": round(time.perf_counter() - started, 3),
        # A durable_rules worker that died was restarted and its contracts retried once.
        "engine_restarts": int(getattr(rt.evaluator, "restarts", 0)),
        # Contracts the engine could not evaluate: left with their stored flags, one line
        # each (`rules rescore` prints them and exits 1).
        "failed": failed,
    }
