"""`rules whatif` (SPEC 7a): the whole active portfolio scored with the rules in force and
with a proposal (another rule folder, risk config or parameters), nothing stored.

Both sides are scored by the Python backend as of the same day, so every difference
printed comes from the proposal, not from stale stored flags (the oracle test holds
durable_rules to the same answers). Contracts are read in chunks of `CHUNK` with their
register facts, in read-only transactions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.definitions.riskconfig import load_risk_config
from engine.definitions.rules import load_rule_dir
from engine.domain.risk import RiskReport
from engine.expressions import compile_when
from engine.risk.flags import effective_params
from engine.risk.python import PythonEvaluator
from engine.services import transitions as tx
from engine.services.register import owed_by_all
from engine.services.rescore import _collector_paused, chunks
from engine.services.runtime import Runtime
from engine.services.stored_batch import Rows, Stored, build, read
from engine.services.workflows import spec_for
from engine.store import models as m

CHUNK = 2000


def whatif(
    rt: Runtime,
    *,
    rules_dir: Path | None = None,
    config_file: Path | None = None,
    params: Mapping[str, Decimal] | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Any]:
    day = as_of or rt.today()
    config = load_risk_config(config_file) if config_file is not None else rt.risk_config
    # A broken proposal stops here with `file:line` problems (InvalidDefinition).
    rules = load_rule_dir(rules_dir, config.parameters) if rules_dir is not None else rt.rules
    effective_params(config, params)  # unknown parameter names: exit 2 before any work
    current = PythonEvaluator(rt.rules, rt.risk_config)
    proposed = PythonEvaluator(rules, config)
    with rt.db.reads() as session:
        ids = list(
            session.scalars(
                select(m.Contract.id).where(m.Contract.status == "active").order_by(m.Contract.id)
            )
        )
        # Every active contract's outstanding amount, once for the whole portfolio.
        owed = owed_by_all(session, rt)
    changed: list[dict[str, Any]] = []
    would_route: list[str] = []

    def fetch(part: list[int]) -> Rows:
        with rt.db.reads() as session:
            return read(session, rt, part, owed)

    parts = chunks(ids, CHUNK)
    ahead = rt.db.dialect == "postgresql"  # SQLite: one connection at a time, serially
    # The next chunk is read in a helper thread while this one is parsed and scored (the
    # database's work and the wire overlap with Python's); the collector stays paused, as
    # in `rescore`, so it does not rescan every chunk's fresh objects.
    with (
        _collector_paused(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="whatif-read") as reader,
        rt.db.reads() as session,
    ):
        pending = reader.submit(fetch, parts[0]) if ahead and parts else None
        for k, part in enumerate(parts):
            rows = pending.result() if pending is not None else fetch(part)
            pending = None
            if ahead and k + 1 < len(parts):
                pending = reader.submit(fetch, parts[k + 1])
            stored = build(rows)
            del rows
            batch = [s.contract for s in stored]
            before = current.evaluate(batch, day)
            after = proposed.evaluate(batch, day, params)
            for s, old, new in zip(stored, before, after, strict=True):
                old_rules = {f.rule for f in old.flags}
                new_rules = {f.rule for f in new.flags}
                if _fired(old) == _fired(new):
                    continue
                changed.append(
                    {
                        "id": s.code,
                        "from": old.max_severity.value,
                        "to": new.max_severity.value,
                        "added": sorted(new_rules - old_rules),
                        "removed": sorted(old_rules - new_rules),
                    }
                )
                if _route(session, s, old) != _route(session, s, new):
                    would_route.append(s.code)
    return {
        "contracts": len(ids),
        "as_of": day.isoformat(),
        "changed": changed,
        "would_route": would_route,
    }


def _fired(report: RiskReport) -> frozenset[tuple[str, str, str]]:
    return frozenset((f.rule, f.severity.value, f.subject or "") for f in report.flags)


def _route(session: Any, s: Stored, report: RiskReport) -> str | None:
    """Where the contract's stage would send it on approve with these flags (None: the
    stage has no routes)."""
    stage = spec_for(session, s.workflow_id).stage(s.stage)
    if not stage.routes:
        return None
    when = tx.when_from_report(s.contract, s.amount_base, report)
    for route in stage.routes:
        if compile_when(route.when).evaluate(when):
            return route.to
    return stage.actions.get("approve")
