"""flows.supervisor with real processes: restarts, giving up, one per folder, no orphans
after kill -9 (issue 19 items 1 and 2). The Prefect stack itself: test_serve_supervision."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flows.supervisor import (
    ChildSpec,
    SchedulerBusy,
    Supervisor,
    marked_processes,
    read_state,
)

ROOT = Path(__file__).resolve().parents[3]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def sleeper(key: str = "worker") -> ChildSpec:
    return ChildSpec(
        key, f"test {key}", [sys.executable, "-c", "import time; time.sleep(300)"], f"{key}.log"
    )


def env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}


def test_a_child_that_dies_is_restarted_and_the_restart_is_logged(tmp_path: Path) -> None:
    lines: list[str] = []
    sup = Supervisor(tmp_path, [sleeper()], env(), backoff=(0.2,), poll=0.1, say=lines.append)
    sup.start()
    try:
        first = sup.child("worker").proc
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        wait_for(lambda: sup.child("worker").restarts == 1, 10, "the restart")
        second = sup.child("worker").proc
        assert second is not None and second.pid != first.pid and second.poll() is None
        assert any(
            f"the test worker (pid {first.pid}) exited with code -9; restarting it" in line
            for line in lines
        ), lines
        assert any(f"restarted the test worker (pid {second.pid}" in line for line in lines)
        state = read_state(tmp_path)
        assert state is not None
        assert state["children"]["worker"]["state"] == "running"
        assert state["children"]["worker"]["restarts"] == 1
        assert state["children"]["worker"]["last_exit"] == -9
    finally:
        sup.stop()
    assert read_state(tmp_path) is None  # stopped cleanly: no state left behind


def test_a_child_that_keeps_dying_is_given_up_visibly(tmp_path: Path) -> None:
    lines: list[str] = []
    errors: list[str] = []
    crash = ChildSpec(
        "flows", "flow runner", [sys.executable, "-c", "raise SystemExit(3)"], "flows.log"
    )
    sup = Supervisor(
        tmp_path,
        [crash],
        env(),
        backoff=(0.05, 0.1),
        max_restarts=3,
        poll=0.05,
        say=lines.append,
        shout=errors.append,
    )
    sup.start()
    try:
        wait_for(lambda: sup.child("flows").state == "failed", 15, "giving up")
        assert sup.child("flows").restarts == 3
        assert len(errors) == 1
        assert errors[0].startswith("scheduler: GAVE UP on the flow runner: it exited 4 times")
        assert "scheduled jobs are NOT running" in errors[0]
        state = read_state(tmp_path)
        assert state is not None and state["children"]["flows"]["state"] == "failed"
        assert state["children"]["flows"]["last_exit"] == 3
        time.sleep(0.5)
        assert sup.child("flows").restarts == 3  # no more restarts after giving up
    finally:
        sup.stop()


def test_a_second_supervisor_on_the_same_folder_is_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    first = Supervisor(tmp_path, [sleeper()], env()).start()
    try:
        second = Supervisor(tmp_path, [sleeper()], env())
        with pytest.raises(SchedulerBusy) as info:
            second.start()
        assert f"(pid {os.getpid()}) already runs the scheduler for {tmp_path.resolve()}" in str(
            info.value
        )
        assert first.running  # the refused one did not touch the first one's children
    finally:
        first.stop()


def test_after_kill_9_of_the_parent_no_child_survives_and_a_restart_reaps_leftovers(
    tmp_path: Path,
) -> None:
    home = tmp_path / "prefect"
    owner = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.ops.supervised_owner", str(home)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env()},
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "ready"
        state = json.loads((home / "scheduler.json").read_text())
        child = state["children"]["worker"]["pid"]
        grandchild = wait_for(
            lambda: [p for p in marked_processes(home.resolve()) if p != child],
            10,
            "the grandchild",
        )[0]
        owner.kill()  # kill -9: no cleanup code of the owner runs
        owner.wait(timeout=10)
        wait_for(lambda: not alive(child), 10, "the child to die with its parent")
        # The grandchild lives in a session of its own, out of reach of the parent-death
        # signal: the orphan that a restart must end.
        assert alive(grandchild)
    finally:
        if owner.poll() is None:
            owner.kill()
    lines: list[str] = []
    restarted = Supervisor(home, [sleeper()], env(), say=lines.append).start()
    try:
        assert not alive(grandchild)
        assert any(
            "left running by a previous `contractflow serve` that was killed" in line
            and str(grandchild) in line
            for line in lines
        ), lines
        assert restarted.running
    finally:
        restarted.stop()
