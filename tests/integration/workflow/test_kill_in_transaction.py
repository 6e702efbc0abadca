"""`act` and `submit` killed with SIGKILL *inside* their write transaction (issue 16,
Tests): nothing half-written survives, on SQLite and PostgreSQL. The process is held just
before its commit by the test hook in `engine.services.unit_of_work` (PAUSE_ENV)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.services import audit, lifecycle
from engine.services.runtime import Runtime
from engine.services.unit_of_work import PAUSE_ENV
from engine.services.views import show
from engine.store import models as m
from tests.integration.workflow.support import contract_file


def _paused_then_killed(rt: Runtime, tmp_path: Path, *args: str) -> None:
    """Run a command until it waits before its commit, then SIGKILL it."""
    folder = tmp_path / f"pause-{time.monotonic_ns()}"
    folder.mkdir()
    env = {
        **os.environ,
        "CONTRACTFLOW_DATABASE_URL": rt.settings.database_url,
        "CONTRACTFLOW_DATA_DIR": str(rt.settings.data_dir),
        "CONTRACTFLOW_RISK_BACKEND": "python",
        PAUSE_ENV: str(folder),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not list(folder.glob("paused-*")):
        if proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(f"{args} ended ({proc.returncode}) before pausing: {err.decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{args} never reached its commit")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _consistent(rt: Runtime) -> dict[str, int]:
    """The audit trail verifies and every open task belongs to its contract's current
    stage and revision; returns row counts to compare."""
    report = audit.verify(rt)
    assert report.verified, report.problems
    with rt.db.reads() as session:
        stray = session.scalar(
            select(func.count())
            .select_from(m.Task)
            .join(m.Contract, m.Contract.id == m.Task.contract_id)
            .where(
                m.Task.status == "open",
                (m.Task.stage != m.Contract.stage)
                | (m.Task.revision != m.Contract.current_revision),
            )
        )
        assert stray == 0
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in {
                "contracts": m.Contract,
                "revisions": m.ContractRevision,
                "tasks": m.Task,
                "approvals": m.Approval,
                "events": m.AuditEvent,
                "outbox": m.OutboxMessage,
                "documents": m.Document,
            }.items()
        }


@pytest.mark.slow
def test_act_and_submit_killed_inside_their_transaction_leave_nothing_half_written(
    wrt: Runtime, tmp_path: Path
) -> None:
    view = lifecycle.submit(wrt, contract_file(tmp_path, amount=500000), "alice")
    task = next(t.id for t in view.tasks if t.status == "open")
    before = _consistent(wrt)

    _paused_then_killed(wrt, tmp_path, "act", str(task), "approve", "--as", "lena")
    assert _consistent(wrt) == before
    assert show(wrt, view.id).stage == "legal_review"

    draft = contract_file(tmp_path, "new.yaml", id="SC-2026-0099", amount=500000)
    _paused_then_killed(wrt, tmp_path, "submit", str(draft), "--as", "alice")
    assert _consistent(wrt) == before
    with wrt.db.reads() as session:
        assert session.scalar(select(m.Contract).where(m.Contract.code == "SC-2026-0099")) is None

    # Nothing was left locked or half-chained: the same actions now go through.
    after = lifecycle.act(wrt, task, "approve", "lena")
    assert after.stage == "signing"
    lifecycle.submit(wrt, draft, "alice")
    counts = _consistent(wrt)
    assert counts["contracts"] == before["contracts"] + 1
    assert counts["events"] == before["events"] + 2
