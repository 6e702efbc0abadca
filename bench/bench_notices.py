"""Issue 13: what task emails cost the actions that cause them, and the sender's pace.

1. **Cost per action.** One process, one database (`bench.dataset`, the benchmark users:
   8 holders per role, each with an email), two runtimes on it: task emails on and off
   (`CONTRACTFLOW_TASK_EMAILS`). The same cycle - submit a small sale (one legal task ->
   8 emails), approve it (opens the signing task -> 8 emails) - alternates between the
   two runtimes, so both see the same database, caches and machine load. p50 of each
   action, on minus off, is the cost of writing the outbox rows in the same transaction.
   Target: under 1 ms added to p50.
2. **Sender pace.** The task emails queued by part 1 are sent through `send_pending` to a
   local aiosmtpd Sink (own process), with one-click links signed per recipient. Target:
   >= 500 messages/s.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import dataset
from bench.bench_alerts import sink_server
from bench.bench_workflow import _drafts
from bench.measure import ms, percentile, risk_backend, table
from bench.report import machine

CONTRACTS = 2_000


def _cycles() -> int:
    return int(os.environ.get("CONTRACTFLOW_BENCH_CYCLES", 60 if dataset.quick() else 400))


def costs(db: dataset.BenchDatabase, backend: str, cycles: int) -> dict[str, Any]:
    from engine.services.lifecycle import decide, submit
    from engine.services.runtime import Runtime

    runtimes = {
        on: Runtime(
            db.settings(risk_backend=backend, task_emails=on, base_url="https://cf.example.com")
        )
        for on in (True, False)
    }
    samples: dict[tuple[str, bool], list[float]] = {
        (a, on): [] for a in ("submit", "approve") for on in (True, False)
    }
    with tempfile.TemporaryDirectory() as tmp:
        small = _drafts(Path(tmp))[0]
        try:
            for i in range(cycles + 20):
                on = i % 2 == 0
                rt = runtimes[on]
                started = time.perf_counter()
                view = submit(rt, small, "ca1")
                took_submit = time.perf_counter() - started
                task = next(t for t in view.tasks if t.status == "open")
                started = time.perf_counter()
                decide(rt, task.id, "approve", f"legal{1 + i % 8}", "ok")
                took_approve = time.perf_counter() - started
                if i >= 20:  # warm-up: templates, pools, caches
                    samples[("submit", on)].append(took_submit)
                    samples[("approve", on)].append(took_approve)
        finally:
            for rt in runtimes.values():
                rt.close()
    return {key: percentile(values, 50) for key, values in samples.items()} | {"n": cycles // 2}


def sending(db: dataset.BenchDatabase, port: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from engine.services.delivery import send_pending
    from engine.services.runtime import Runtime
    from engine.store import models as m

    rt = Runtime(
        db.settings(smtp_port=port, mail_from="cf@example.com", base_url="https://cf.example.com")
    )
    try:
        send_pending(rt, kinds=("obligation_alert", "task_escalation"))  # not ours
        with rt.db.reads() as session:
            queued = session.scalar(
                select(func.count())
                .select_from(m.OutboxMessage)
                .where(m.OutboxMessage.kind == "task_notice", m.OutboxMessage.status == "pending")
            )
        send_pending(rt, kinds=("task_notice",), limit=100)  # warm-up
        started = time.perf_counter()
        result = send_pending(rt, kinds=("task_notice",))
        seconds = time.perf_counter() - started
    finally:
        rt.close()
    return {"queued": queued, "sent": result.sent, "rate": result.sent / seconds}


def run() -> str:
    backend, why = risk_backend()
    kinds = ["sqlite"] + (["postgresql"] if dataset.postgres_available() else [])
    cycles = _cycles()
    rows = []
    send_rows = []
    for kind in kinds:
        db = dataset.prepare(kind, CONTRACTS)
        try:
            dataset.log(f"notices: {kind}, {cycles} cycles")
            c = costs(db, backend, cycles)
            for action in ("submit", "approve"):
                on, off = c[(action, True)], c[(action, False)]
                verdict = "met" if on - off < 0.001 else "not met"
                rows.append(
                    [kind, action, c["n"], ms(off), ms(on), f"{(on - off) * 1000:+.2f} ms", verdict]
                )
            with sink_server() as (port, _pid):
                s = sending(db, port)
            send_rows.append(
                [
                    kind,
                    f"{s['sent']:,}",
                    f"{s['rate']:,.0f} msg/s",
                    "met" if s["rate"] >= 500 else "not met",
                ]
            )
        finally:
            db.drop()
    return "\n\n".join(
        [
            "## Task emails (issue 13)",
            f"{machine()}. Risk backend: {backend} ({why}). Database: the benchmark dataset at "
            f"{CONTRACTS:,} contracts; 8 users per role, each with an email, so a submit writes "
            "8 task emails (legal) and the approval that opens signing writes 8 more.",
            "### Cost per action: p50 with task emails on vs off, same run, alternating",
            table(
                ["database", "action", "samples each", "p50 off", "p50 on", "added", "< 1 ms"],
                rows,
            ),
            "### Sender: the queued task emails, with one-click links signed per recipient",
            table(["database", "sent", "rate", ">= 500/s"], send_rows),
            "The added cost is the outbox INSERT (one multi-row statement), one statement for "
            "the role holders with their delegates and, on an approval, one for the contract's "
            "current flags (a submit has them in hand). Rendering, link signing and SMTP happen "
            "in the sender, after the commit.",
        ]
    )
