"""`PrefectStack` (what `contractflow serve` runs): a real local Prefect server with our three
flows served on schedules; a run triggered on it emails through the real SMTP server; leaving
the block stops every process."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.settings import Settings
from engine.store import migrate
from engine.store.db import Database
from tests.integration.alerts.support import SmtpServer, add_contract, add_user


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_the_stack_serves_the_flows_on_schedules_and_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.stack import PrefectStack

    monkeypatch.setenv("PREFECT_RUNNER_POLL_FREQUENCY", "1")
    smtp = SmtpServer().start()
    db_url = f"sqlite:///{tmp_path / 'cf.db'}"
    db = Database(db_url)
    migrate.upgrade(db)
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path / "data",
        smtp_port=smtp.port,
        mail_from="cf@example.com",
        alerts_cron="0 7 * * *",
    )
    # The business day (CONTRACTFLOW_TIMEZONE), not UTC's: "due soon" is due today there.
    today = dt.datetime.now(settings.zone).date()
    with db.transaction() as session:
        from engine.services.users import seed_roles

        seed_roles(session)
        session.flush()
        alice = add_user(session, "alice", "alice@example.com", ("contract_admin",))
        add_contract(session, "SC-STACK-1", alice, [{"oid": "OB-1", "due": today}])
    db.dispose()
    try:
        with PrefectStack(settings, port=None) as stack:
            api = stack.api_url
            served = {
                "overdue-alerts/daily",
                "sla-escalations/hourly",
                "nightly-rescore/nightly",
                "task-digest/daily",
                "task-reminders/daily",
            }

            def deployed() -> dict[str, dict[str, Any]]:
                flows = {f["id"]: f["name"] for f in httpx.post(f"{api}/flows/filter").json()}
                listed = httpx.post(f"{api}/deployments/filter", json={}).json()
                return {f"{flows.get(d['flow_id'])}/{d['name']}": d for d in listed}

            try:
                # Generous: on a loaded 2-core machine the flow runner takes a while to import.
                wait_for(lambda: set(deployed()) == served, 180, "every flow's deployment")
            except AssertionError as waited:
                log = stack.home / "flows.log"
                raise AssertionError(
                    f"{waited}; flows.log ends: {log.read_text()[-3000:] if log.exists() else '-'}"
                ) from None
            alerts = deployed()["overdue-alerts/daily"]
            schedules = httpx.get(f"{api}/deployments/{alerts['id']}/schedules").json()
            assert [s["schedule"]["cron"] for s in schedules] == ["0 7 * * *"]

            run = httpx.post(f"{api}/deployments/{alerts['id']}/create_flow_run", json={}).json()
            state = wait_for(
                lambda: (
                    s
                    if (s := httpx.get(f"{api}/flow_runs/{run['id']}").json()["state"]["type"])
                    in ("COMPLETED", "FAILED", "CRASHED")
                    else None
                ),
                90,
                "the triggered run",
            )
            assert state == "COMPLETED", (stack.home / "flows.log").read_text()[-3000:]
            assert [m.subject for m in smtp.messages] == [
                f"Due soon: contract SC-STACK-1, obligation OB-1 due {today.isoformat()}"
            ]
            server, flows = stack._server, stack._flows
            assert stack.running
        assert server is not None and server.poll() is not None
        assert flows is not None and flows.poll() is not None
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{api}/health", timeout=2)
        assert (tmp_path / "data" / "prefect" / "prefect.db").exists()
    finally:
        smtp.stop()
