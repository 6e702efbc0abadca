"""Kill the sender at random points; after a restart every alert is delivered, with at most
one duplicate per kill, and a duplicate carries the same Message-ID as the original.

Each trial's batch mixes the kinds the alert job plans: overdue obligations, the contract's
three expiry levels and its renewal notice."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import pytest

from engine.services.alerts import plan_alerts
from engine.services.delivery import send_pending
from engine.services.runtime import Runtime, utcnow
from engine.store import models as m
from tests.integration.alerts.support import SmtpServer, add_contract

TRIALS = 20


def pending_count(rt: Runtime) -> int:
    with rt.db.sessions() as session:
        return session.query(m.OutboxMessage).filter(m.OutboxMessage.status == "pending").count()


PER_TRIAL = 12
CONTRACT_ALERTS = 4  # expiring_90, expiring_60, expiring_30, renewal_notice


@pytest.mark.slow
def test_killing_the_sender_at_random_points_loses_nothing_and_duplicates_at_most_once(
    db_url: str, make_rt: Any, people: dict[str, int], smtp: SmtpServer, tmp_path: Any
) -> None:
    if db_url.startswith("sqlite") and os.environ.get("CONTRACTFLOW_TEST_DATABASE_URL"):
        pytest.skip("20 kills take ~20 s; with PostgreSQL available they run there only")
    smtp.handler.delay = 0.004  # widen the window between the server's 250 and "mark sent"
    rng = random.Random(20270301)
    env = {
        **os.environ,
        "CONTRACTFLOW_DATABASE_URL": db_url,
        "CONTRACTFLOW_SMTP_HOST": "127.0.0.1",
        "CONTRACTFLOW_SMTP_PORT": str(smtp.port),
        "CONTRACTFLOW_MAIL_FROM": "cf@example.com",
        "CONTRACTFLOW_DATA_DIR": str(tmp_path / "data"),
    }
    planner = make_rt(smtp.port)
    duplicates_per_trial: list[int] = []
    kills = 0
    for trial in range(TRIALS):
        as_of = dt.date(2027, 3, 1)
        with planner.db.transaction() as session:
            add_contract(
                session,
                f"SC-CRASH-{trial}",
                session.get(m.User, people["alice"]),
                [{"oid": f"OB-{i}", "due": as_of - dt.timedelta(days=i)} for i in range(PER_TRIAL)],
                end_date=as_of + dt.timedelta(days=20),
                auto_renewal=True,
                renewal_notice_days=15,
            )
        assert plan_alerts(planner, as_of).planned == PER_TRIAL + CONTRACT_ALERTS

        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.alerts.sender_process"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        killed_after = rng.uniform(0.0, (PER_TRIAL + CONTRACT_ALERTS) * 0.012)
        try:
            proc.wait(timeout=killed_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        proc.stdout.close()

        # Restart once the killed process's lease has run out. On PostgreSQL the dead
        # session's row locks last until the server notices the closed socket (usually at
        # once, under load a moment later; SKIP LOCKED passes them by), so a second pass a
        # moment later is allowed - as the next scheduled run would be.
        later = utcnow() + dt.timedelta(minutes=6)
        restarted = Runtime(planner.settings, clock=lambda later=later: later)
        try:
            for _attempt in range(5):
                send_pending(restarted)
                if pending_count(restarted) == 0:
                    break
                time.sleep(0.5)
        finally:
            restarted.close()

        received: dict[str, list[str]] = defaultdict(list)
        for msg in smtp.messages:
            key = msg.message["X-Contractflow-Alert"]
            if key.startswith(("obligation:", "contract:")) and f"SC-CRASH-{trial} " in (
                msg.subject.replace(",", " ") + " "
            ):
                received[key].append(msg.message_id)
        expected = PER_TRIAL + CONTRACT_ALERTS
        assert len(received) == expected, f"trial {trial}: {expected - len(received)} lost"
        assert sum(k.startswith("contract:") for k in received) == CONTRACT_ALERTS
        extra = sum(len(ids) - 1 for ids in received.values())
        assert extra <= 1, f"trial {trial}: {extra} duplicates after one kill"
        for ids in received.values():
            assert len(set(ids)) == 1, "a duplicate must carry the original Message-ID"
        duplicates_per_trial.append(extra)

    with planner.db.sessions() as session:
        statuses = {r.status for r in session.query(m.OutboxMessage)}
    assert statuses == {"sent"}
    assert kills >= TRIALS * 3 // 4, "most trials must kill the sender mid-batch"
    print(f"crash test: {TRIALS} trials, {kills} kills, {sum(duplicates_per_trial)} duplicates")
