"""`contractflow serve` as an operator runs it, with the real Prefect server and flow runner:
the UI URL printed, the flow runner killed and restarted, a second serve on the same data
folder refused, no orphans after kill -9 of serve, and a clean restart after it
(issue 19 items 1-3). Slow: three Prefect server start-ups."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.alerts.support import free_port
from tests.integration.cli_support import run_cli
from tests.integration.ops.test_supervisor import alive

ROOT = Path(__file__).resolve().parents[3]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; serve said:\n{log.read_text()[-3000:]}")


def start_serve(
    tmp: Path, name: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = tmp / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--no-access-log"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    return proc, port, log


def ready(port: int) -> dict[str, Any] | None:
    response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    body = response.json()
    return body if response.status_code == 200 and body["checks"]["scheduler"] != "off" else None


@pytest.mark.slow
def test_serve_supervises_its_scheduler_and_leaves_nothing_behind_after_kill_9(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'cf.db'}"
    assert run_cli("init", db_url=db).code == 0
    prefect_port = free_port()
    env = {
        **os.environ,
        "CONTRACTFLOW_DATABASE_URL": db,
        "CONTRACTFLOW_DATA_DIR": str(tmp_path / "data"),
        "CONTRACTFLOW_PREFECT_PORT": str(prefect_port),
        "CONTRACTFLOW_RISK_BACKEND": "python",
        "CONTRACTFLOW_SECRET_KEY": "x" * 40,
    }
    first, port, log = start_serve(tmp_path, "first", env)
    procs = [first]
    try:
        body = wait_for(lambda: ready(port), 120, "the first serve to be ready", log)
        assert f"scheduler: Prefect UI at http://127.0.0.1:{prefect_port}" in log.read_text()
        children = body["checks"]["scheduler"]["children"]
        server_pid, runner_pid = children["server"]["pid"], children["flows"]["pid"]

        # A second serve on the same data folder is refused, naming the first.
        second, _, second_log = start_serve(tmp_path, "second", env)
        procs.append(second)
        assert second.wait(timeout=60) == 2
        assert f"(pid {first.pid}) already runs the scheduler for" in second_log.read_text()
        assert alive(server_pid) and alive(runner_pid)

        # The flow runner dies: serve restarts it, says so, and /readyz follows.
        os.kill(runner_pid, signal.SIGKILL)
        restarted = wait_for(
            lambda: (
                (b := ready(port))
                and b["checks"]["scheduler"]["children"]["flows"]["restarts"] == 1
                and b
            ),
            60,
            "the flow runner's restart",
            log,
        )
        assert restarted["checks"]["scheduler"]["children"]["flows"]["pid"] != runner_pid
        text = log.read_text()
        assert f"the flow runner (pid {runner_pid}) exited with code -9; restarting it" in text
        runner_pid = restarted["checks"]["scheduler"]["children"]["flows"]["pid"]

        # kill -9 of serve itself: its children go with it, the port is free again.
        first.kill()
        first.wait(timeout=10)
        wait_for(
            lambda: not alive(server_pid) and not alive(runner_pid),
            30,
            "the children to die with serve",
            log,
        )

        # And a new serve starts cleanly on the same folder.
        third, port3, log3 = start_serve(tmp_path, "third", env)
        procs.append(third)
        wait_for(lambda: ready(port3), 120, "the third serve to be ready", log3)
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=60) in (0, 128 + signal.SIGTERM)
        assert not (tmp_path / "data" / "prefect" / "scheduler.json").exists()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
