"""docs/deployment.md's scale-out recipe, run for real: a Prefect server on PostgreSQL, a
`process` work pool, two workers, our flows registered with `python -m flows.deploy`; runs
triggered on the server are picked up by the workers and email through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.settings import Settings
from engine.store.db import Database
from tests.integration.alerts.support import SmtpServer, add_contract, add_user
from tests.support import fresh_pg_database

PG_URL = os.environ.get("CONTRACTFLOW_TEST_DATABASE_URL")


@pytest.fixture
def prefect_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for Prefect's own tables (asyncpg driver)."""
    if not PG_URL:
        pytest.skip("CONTRACTFLOW_TEST_DATABASE_URL is not set")
    with fresh_pg_database(PG_URL, "cf_prefect_") as created:
        yield created.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.postgres
def test_flows_run_as_deployments_on_a_postgresql_server_with_two_workers(
    pg_database: str | None,
    prefect_pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.stack import PrefectStack
    from tests.conftest import _truncate_all

    assert pg_database is not None
    _truncate_all(pg_database)
    smtp = SmtpServer().start()
    db = Database(pg_database)
    today = dt.datetime.now(dt.UTC).date()
    with db.transaction() as session:
        from engine.services.users import seed_roles

        seed_roles(session)
        session.flush()
        alice = add_user(session, "alice", "alice@example.com", ("contract_admin",))
        add_contract(
            session,
            "SC-SCALE-1",
            alice,
            [{"oid": f"OB-{i}", "due": today - dt.timedelta(days=i)} for i in range(6)],
        )
    db.dispose()
    settings = Settings(
        database_url=pg_database,
        data_dir=tmp_path / "data",
        smtp_port=smtp.port,
        mail_from="cf@example.com",
        risk_backend="python",
    )
    monkeypatch.setenv("PREFECT_WORKER_QUERY_SECONDS", "1")
    monkeypatch.setenv("PREFECT_WORKER_HEARTBEAT_SECONDS", "5")
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with PrefectStack(
            settings, prefect_database_url=prefect_pg_url, serve_flows=False
        ) as stack:
            env = stack.environment()
            deployed = subprocess.run(
                [sys.executable, "-m", "flows.deploy", "--pool", "cf-pool", "--name", "scale"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert deployed.returncode == 0, deployed.stderr
            assert "deployed overdue-alerts/scale on work pool cf-pool" in deployed.stdout

            for n in range(2):
                log = (stack.home / f"worker-{n}.log").open("ab")
                workers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "prefect",
                            "worker",
                            "start",
                            "--pool",
                            "cf-pool",
                            "--name",
                            f"worker-{n}",
                            "--install-policy",
                            "never",
                        ],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            api = stack.api_url
            online = wait_for(
                lambda: (
                    w
                    if len(
                        w := [
                            x["name"]
                            for x in httpx.post(
                                f"{api}/work_pools/cf-pool/workers/filter", json={}
                            ).json()
                            if x["status"] == "ONLINE"
                        ]
                    )
                    == 2
                    else None
                ),
                60,
                "two workers online",
            )
            assert sorted(online) == ["worker-0", "worker-1"]

            deployments = {
                d["name"]: d
                for d in httpx.post(f"{api}/deployments/filter", json={}).json()
                if d["name"] == "scale"
            }
            assert len(deployments) == 1  # one name; the flows share it
            by_flow = {
                httpx.get(f"{api}/flows/{d['flow_id']}").json()["name"]: d
                for d in httpx.post(f"{api}/deployments/filter", json={}).json()
            }
            assert set(by_flow) == {
                "overdue-alerts",
                "sla-escalations",
                "nightly-rescore",
                "task-digest",
                "task-reminders",
            }
            runs = [
                httpx.post(
                    f"{api}/deployments/{by_flow[name]['id']}/create_flow_run", json={}
                ).json()["id"]
                for name in ("overdue-alerts", "sla-escalations")
            ]

            def states() -> list[str] | None:
                found = [
                    httpx.get(f"{api}/flow_runs/{run}").json()["state"]["type"] for run in runs
                ]
                done = all(s in ("COMPLETED", "FAILED", "CRASHED") for s in found)
                return found if done else None

            final = wait_for(states, 150, "both flow runs")
            logs = "\n".join(
                (stack.home / f"worker-{n}.log").read_text(errors="replace")[-2000:]
                for n in range(2)
            )
            assert final == ["COMPLETED", "COMPLETED"], logs
            assert sorted(
                m.message["X-Contractflow-Alert"].split(":")[2] for m in smtp.messages
            ) == [f"OB-{i}" for i in range(6)]
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, 15)
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, 9)
        smtp.stop()
